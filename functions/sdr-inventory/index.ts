import { collectorHandler } from '../runtime/handler';
import { runSdrInventory } from './collector';
import { readSdrInventorySettings } from './config';
import { sdrInventoryManifest } from './manifest';

/** Any event (the schedule sends `{}`) starts a snapshot or continues the one in progress. */
export const handler = collectorHandler({
  manifest: sdrInventoryManifest,
  settings: readSdrInventorySettings,
  run: (runtime, _event, call) => runSdrInventory(runtime, call),
  metrics: (summary) => ({
    Pages: summary.pages,
    Records: summary.records,
    SnapshotsStarted: summary.startedSnapshot ? 1 : 0,
    SnapshotsCompleted: summary.completedSnapshot ? 1 : 0,
  }),
  finished: 'SDR inventory run finished',
});
