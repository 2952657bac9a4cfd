import { describe, expect, it } from 'vitest';
import { cdrDetectionFinding } from '../../../functions/ocsf/detection-finding';
import { OcsfMappingError } from '../../../functions/ocsf/fields';
import { REQUIRED, requirementProblems } from './required-attributes';
import { cdrFinding, curatedCdrFindings, INGESTED_AT } from './samples';

const EVENT_TIME = Date.UTC(2025, 4, 9, 20, 0, 42);

describe('cdrDetectionFinding', () => {
  it('turns each vendor sample finding into a Detection Finding with every required attribute', () => {
    const events = curatedCdrFindings().map(cdrDetectionFinding);

    expect(events).toHaveLength(2);
    for (const event of events) expect(requirementProblems(event, REQUIRED.detectionFinding)).toEqual([]);
    expect(events.map((event) => event.finding_info.uid)).toEqual([
      'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6',
      'cxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxea',
    ]);
  });

  it('puts the finding, its times, cloud, resource and product where README says', () => {
    const event = cdrDetectionFinding(cdrFinding());

    expect(event).toMatchObject({
      class_uid: 2004,
      class_name: 'Detection Finding',
      category_uid: 2,
      category_name: 'Findings',
      activity_id: 1,
      activity_name: 'Create',
      type_uid: 200401,
      type_name: 'Detection Finding: Create',
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      status: 'New',
      time: EVENT_TIME,
      timezone_offset: 0,
      message:
        'The reconnaissance API DescribeInstances was invoked from an IP address on a custom threat list.',
      finding_info: {
        uid: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6',
        title: 'Recon_MaliciousIPCaller.Custom',
        desc: 'The reconnaissance API DescribeInstances was invoked from an IP address on a custom threat list.',
        types: ['api_activity'],
        first_seen_time: EVENT_TIME,
        last_seen_time: EVENT_TIME,
      },
      cloud: {
        provider: 'AWS',
        region: 'us-west-2',
        account: { uid: '9xxxxxxxxxx5', type_id: 10, type: 'AWS Account' },
      },
      resources: [{ uid: 'OktaSSO_Compute', name: 'OktaSSO_Compute', type: 'IAM_USER', region: 'us-west-2' }],
      metadata: {
        version: '1.1.0',
        product: { name: 'Qualys CDR', vendor_name: 'Qualys', feature: { name: 'cspSignal' } },
        profiles: ['cloud'],
        uid: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6',
        tenant_uid: 'exxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxx63e',
        original_time: '2025-05-09T20:00:42.000+00:00',
        logged_time: Date.parse(INGESTED_AT),
        log_name: 'cdr_findings',
        log_provider: 'qualys-lake',
      },
    });
  });

  it("keeps in unmapped exactly the sample's non-null fields it did not map (the masked IP among them)", () => {
    const event = cdrDetectionFinding(cdrFinding());

    // The sample masks the IP (7x.xxx.xxx.xx6) and the remote coordinates: no src_endpoint.
    expect(event.evidences).toBeUndefined();
    expect(event.unmapped).toEqual({
      triggeredResource: '7x.xxx.xxx.xx6',
      triggeredResourceGeoLocation: '37.7558,-121.9527',
      triggeredResourceCity: 'San Ramon',
      triggeredResourceCountry: 'United States',
      'remoteIpDetails.geoLocation': '3x.xxxx,-xxx.x178',
      'remoteIpDetails.city': 'Oakland',
      'remoteIpDetails.country': 'United States',
      'remoteIpDetails.ipAddress': '7x.xxx.xxx.xx6',
      lake_raw_key: 'raw/cdr-findings/dt=2025-05-09/page.json.gz',
    });
  });

  it('maps the remote IP and its location (ISO country, GeoJSON lon/lat) to the source endpoint', () => {
    const event = cdrDetectionFinding(
      cdrFinding({
        triggeredResource: '203.0.113.7',
        remoteIpDetails: {
          geoLocation: '37.8044,-122.2712',
          city: 'Oakland',
          country: 'United States',
          ipAddress: '203.0.113.7',
        },
      }),
    );

    expect(event.evidences).toEqual([
      {
        src_endpoint: {
          ip: '203.0.113.7',
          location: { city: 'Oakland', country: 'US', coordinates: [-122.2712, 37.8044] },
        },
      },
    ]);
    expect(Object.keys(event.unmapped).filter((key) => key.startsWith('remoteIpDetails'))).toEqual([]);
    // The second geo lookup of the same IP is not mapped twice: it stays in unmapped.
    expect(event.unmapped).toMatchObject({
      triggeredResource: '203.0.113.7',
      triggeredResourceCity: 'San Ramon',
    });
  });

  it('falls back to triggeredResource and its location when remoteIpDetails is absent', () => {
    const event = cdrDetectionFinding(
      cdrFinding({ triggeredResource: '2001:db8::7', remoteIpDetails: null }),
    );

    expect(event.evidences?.[0]?.src_endpoint).toEqual({
      ip: '2001:db8::7',
      location: { city: 'San Ramon', country: 'US', coordinates: [-121.9527, 37.7558] },
    });
    expect(event.unmapped).not.toHaveProperty('triggeredResource');
    expect(event.unmapped).not.toHaveProperty('triggeredResourceCity');
  });

  it('keeps a country name it cannot turn into an ISO code in unmapped', () => {
    const event = cdrDetectionFinding(
      cdrFinding({
        remoteIpDetails: { ipAddress: '203.0.113.7', country: 'Atlantis', city: null },
        triggeredResourceCity: null,
        triggeredResourceCountry: null,
        triggeredResourceGeoLocation: null,
      }),
    );

    expect(event.evidences?.[0]?.src_endpoint).toEqual({ ip: '203.0.113.7' });
    expect(event.unmapped['remoteIpDetails.country']).toBe('Atlantis');
  });

  it('maps a network finding: port to the destination, protocol to connection info (direction Unknown)', () => {
    const event = cdrDetectionFinding(
      cdrFinding({
        threatClass: 'network_activity',
        protocol: 'TCP',
        affectedResourcePort: 22,
        processName: 'sshd',
      }),
    );

    expect(event.evidences?.[0]).toEqual({
      dst_endpoint: { name: 'OktaSSO_Compute', port: 22 },
      connection_info: { direction_id: 0, direction: 'Unknown', protocol_name: 'tcp' },
    });
    expect(event.unmapped).toMatchObject({ processName: 'sshd' });
    expect(event.unmapped).not.toHaveProperty('protocol');
    expect(event.unmapped).not.toHaveProperty('affectedResourcePort');
  });

  it.each([
    [1, 2, 'Low'],
    [2, 3, 'Medium'],
    [3, 4, 'High'],
    [4, 5, 'Critical'],
    ['CRITICAL', 5, 'Critical'],
    [7, 5, 'Critical'],
    [null, 0, 'Unknown'],
    [0, 0, 'Unknown'],
  ])('maps Qualys severity %j to severity_id %i (%s)', (severity, id, caption) => {
    const event = cdrDetectionFinding(cdrFinding({ severity }));

    expect([event.severity_id, event.severity]).toEqual([id, caption]);
  });

  it('keeps a severity it cannot read in unmapped, and maps it to Unknown', () => {
    const event = cdrDetectionFinding(cdrFinding({ severity: 'SEVERE' }));

    expect(event.severity_id).toBe(0);
    expect(event.unmapped.severity).toBe('SEVERE');
  });

  it('writes times in epoch milliseconds and the zone the finding was written in', () => {
    const event = cdrDetectionFinding(cdrFinding({ timestamp: '2025-05-09T22:00:42.250+02:00' }));

    expect(event.time).toBe(EVENT_TIME + 250);
    expect(event.finding_info.first_seen_time).toBe(EVENT_TIME + 250);
    expect(event.timezone_offset).toBe(120);
  });

  it('names the finding and the field when the timestamp is not a date-time', () => {
    expect(() => cdrDetectionFinding(cdrFinding({ timestamp: 'May 9' }))).toThrow(OcsfMappingError);
    expect(() => cdrDetectionFinding(cdrFinding({ timestamp: 'May 9' }))).toThrow(
      'CDR finding xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxfa6: timestamp "May 9" is not an ISO-8601 date-time with a zone',
    );
  });

  it('leaves resources out when the finding names no resource, keeping its type in unmapped', () => {
    const event = cdrDetectionFinding(cdrFinding({ resourceId: null, affectedResource: null }));

    expect(event.resources).toBeUndefined();
    expect(event.unmapped.resourceType).toBe('IAM_USER');
  });

  it('titles a finding without threatCategory by its message', () => {
    const event = cdrDetectionFinding(cdrFinding({ threatCategory: null }));

    expect(event.finding_info.title).toBe(event.message);
  });
});
