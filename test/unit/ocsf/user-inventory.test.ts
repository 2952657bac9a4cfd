import { describe, expect, it } from 'vitest';
import { OcsfMappingError } from '../../../functions/ocsf/fields';
import { type CuratedSdrUser, sdrUserInventoryInfo } from '../../../functions/ocsf/user-inventory';
import { REQUIRED, requirementProblems } from './required-attributes';
import { curatedUsers, INGESTED_AT } from './samples';

const user = (changes: Record<string, unknown> = {}): CuratedSdrUser => ({
  ...(curatedUsers()[0] as CuratedSdrUser),
  ...changes,
});

describe('sdrUserInventoryInfo', () => {
  it('turns the vendor sample user into User Inventory Info with every required attribute', () => {
    const event = sdrUserInventoryInfo(user());

    expect(requirementProblems(event, REQUIRED.userInventoryInfo)).toEqual([]);
    expect(event).toMatchObject({
      class_uid: 5003,
      class_name: 'User Inventory Info',
      category_uid: 5,
      category_name: 'Discovery',
      activity_id: 2,
      activity_name: 'Collect',
      type_uid: 500302,
      severity_id: 1,
      severity: 'Informational',
      time: Date.parse(INGESTED_AT),
      user: {
        uid: 'e919a10f-2081-4758-9293-12fcab8ecf1e',
        name: 'newuser611',
        full_name: '611 newuser',
        email_addr: 'newuser611@qualyssscmsdev.com',
        domain: 'qualyssscmsdev.com',
        type_id: 1,
        type: 'User',
      },
      cloud: { provider: 'OFFICE365' },
      metadata: {
        version: '1.1.0',
        product: { name: 'Qualys SaaSDR', vendor_name: 'Qualys' },
        uid: '2245/e919a10f-2081-4758-9293-12fcab8ecf1e@20250510T000000Z',
        tenant_uid: '4eaa64f9-771c-745e-810a-37d3f4c38a49',
        log_name: 'sdr_users',
      },
    });
  });

  it('keeps what OCSF 1.1.0 has no user attribute for in unmapped', () => {
    expect(sdrUserInventoryInfo(user()).unmapped).toEqual({
      'connector.id': '2245',
      version: '1',
      firstName: '611',
      lastName: 'newuser',
      nameAlias: '611 newuser',
      isSuspended: 'true',
      accessType: 'Internal',
      role: 'USER',
      roles: '[]',
      lake_snapshot_id: '20250510T000000Z',
      lake_raw_key: 'raw/sdr-inventory/users/page.json.gz',
    });
  });

  it('types an entity that is not a user as Other, by its SaaS name', () => {
    const event = sdrUserInventoryInfo(user({ entityType: 'SERVICE_ACCOUNT' }));

    expect(event.user).toMatchObject({ type_id: 99, type: 'SERVICE_ACCOUNT' });
    expect(requirementProblems(event, REQUIRED.userInventoryInfo)).toEqual([]);
  });

  it('refuses a user without the ids that make it one', () => {
    expect(() => sdrUserInventoryInfo(user({ sourceId: null }))).toThrow(OcsfMappingError);
  });
});
