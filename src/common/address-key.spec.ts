import { addressKey } from './address-key';

describe('addressKey', () => {
  it('counts IPv4 per address, however it is written', () => {
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('::ffff:c633:6407')).toBe('198.51.100.7');
    expect(addressKey('::198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('64:ff9b::198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('64:ff9b::1.2.3.4')).not.toBe(addressKey('64:ff9b::5.6.7.8'));
  });

  it('counts IPv6 per /64, however the address is written', () => {
    const key = addressKey('2001:db8:1:2::1');
    expect(key).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe(key);
    expect(addressKey('2001:db8:1:3::1')).not.toBe(key);
  });

  it('keeps loopback and the unspecified address to themselves', () => {
    expect(addressKey('::1')).toBe('::1');
    expect(addressKey('::')).toBe('::');
    expect(addressKey('::1')).not.toBe(addressKey('::ffff:c633:6407'));
  });

  it('passes anything else through (no address: an empty key of its own)', () => {
    expect(addressKey('')).toBe('');
    expect(addressKey('not an address')).toBe('not an address');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
