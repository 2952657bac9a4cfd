import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/runtime/env';
import { readCommonConfig } from '../../../functions/runtime/handler';

const required = { QUALYS_SECRET_ID: 'qualys-lake/qualys', ARCHIVE_BUCKET: 'archive' };

describe('readCommonConfig: where the Qualys credentials may go', () => {
  it('allows only the Qualys gateways, over https, by default', () => {
    expect(readCommonConfig(required).gateway).toEqual({ allowedHosts: [], allowHttpLoopback: false });
  });

  it('reads QUALYS_ALLOWED_HOSTS and QUALYS_ALLOW_HTTP_LOOPBACK', () => {
    expect(
      readCommonConfig({
        ...required,
        QUALYS_ALLOWED_HOSTS: 'qualys.example.internal, gw.test.example',
        QUALYS_ALLOW_HTTP_LOOPBACK: 'true',
      }).gateway,
    ).toEqual({ allowedHosts: ['qualys.example.internal', 'gw.test.example'], allowHttpLoopback: true });
  });

  it.each([
    ['QUALYS_ALLOWED_HOSTS', 'https://qualys.example.internal', /host names \(no scheme, port or path\)/],
    ['QUALYS_ALLOW_HTTP_LOOPBACK', 'sometimes', /true or false/],
  ])('refuses %s=%j naming the variable', (name, value, expected) => {
    const read = () => readCommonConfig({ ...required, [name]: value });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(new RegExp(`${name} must be`));
    expect(read).toThrow(expected);
  });
});

describe('readCommonConfig: the subscription the function serves', () => {
  it('is default without QUALYS_SUBSCRIPTION, else the one named', () => {
    expect(readCommonConfig(required).subscription).toBe('default');
    expect(readCommonConfig({ ...required, QUALYS_SUBSCRIPTION: 'emea-2' }).subscription).toBe('emea-2');
  });

  it.each(['Prod', 'prod_eu', '2nd', 'a'.repeat(25)])(
    'refuses QUALYS_SUBSCRIPTION=%j naming the rule',
    (value) => {
      const read = () => readCommonConfig({ ...required, QUALYS_SUBSCRIPTION: value });
      expect(read).toThrow(ConfigError);
      expect(read).toThrow(
        `QUALYS_SUBSCRIPTION must be 1 to 24 lowercase letters, digits or hyphens, starting with a letter, got "${value}"`,
      );
    },
  );
});
