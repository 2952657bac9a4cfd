/**
 * The OCSF schema version every event carries in `metadata.version`. Amazon Security Lake accepts
 * custom sources in OCSF 1.1.0 (its "Supported OCSF event classes" list for custom sources names
 * 1.1.0 classes, Detection Finding and Compliance Finding among them; 1.3.0 classes were added
 * later), and 1.1.0 is the first version with Detection Finding (2004): README "OCSF mapping".
 * The class definitions the mapping follows are ocsf/ocsf-schema at tag v1.1.0.
 */
export const OCSF_VERSION = '1.1.0';

/** Who the events are from: `metadata.product` (name, vendor_name) per Qualys application. */
export const QUALYS_PRODUCTS = {
  cdr: { name: 'Qualys CDR', vendor_name: 'Qualys' },
  saasdr: { name: 'Qualys SaaSDR', vendor_name: 'Qualys' },
} as const;

/** `metadata.log_provider`: the service that wrote the event to the lake. */
export const LOG_PROVIDER = 'qualys-lake';
