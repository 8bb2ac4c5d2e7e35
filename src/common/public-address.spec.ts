import type { HttpAdapterHost } from '@nestjs/core';
import type { AuthSwitchOptions } from '../config/auth-switch.options';
import { PublicAddress } from './public-address';

function addressOf(publicUrl: string | null, listening: { address: string; port: number } | null): PublicAddress {
  const server = { address: () => (listening ? { ...listening, family: 'IPv4' } : null) };
  const adapterHost = { httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost;
  return new PublicAddress({ publicUrl } as AuthSwitchOptions, adapterHost);
}

describe('PublicAddress', () => {
  it('is publicUrl when set, whatever the server listens on', () => {
    const address = addressOf('https://auth.example.test', { address: '127.0.0.1', port: 4000 });
    expect(address.url).toBe('https://auth.example.test');
    expect(address.origin).toBe('https://auth.example.test');
  });

  it('is the address the server listens on otherwise, a wildcard as localhost', () => {
    expect(addressOf(null, { address: '127.0.0.1', port: 4000 }).url).toBe('http://127.0.0.1:4000');
    expect(addressOf(null, { address: '0.0.0.0', port: 8080 }).url).toBe('http://localhost:8080');
    expect(addressOf(null, { address: '::1', port: 8080 }).origin).toBe('http://[::1]:8080');
  });

  it('falls back to localhost:3000 before the server listens', () => {
    expect(addressOf(null, null).url).toBe('http://localhost:3000');
  });
});

describe('PublicAddress.isOwnOrigin', () => {
  it('with publicUrl: only its origin', () => {
    const address = addressOf('https://auth.example.test', { address: '127.0.0.1', port: 4000 });
    expect(address.isOwnOrigin('https://auth.example.test')).toBe(true);
    expect(address.isOwnOrigin('http://127.0.0.1:4000')).toBe(false);
  });

  it('without publicUrl: the listening port under a loopback name, never another port, scheme or site', () => {
    const address = addressOf(null, { address: '127.0.0.1', port: 4000 });
    for (const own of ['http://127.0.0.1:4000', 'http://localhost:4000', 'http://[::1]:4000']) expect(address.isOwnOrigin(own)).toBe(true);
    for (const foreign of [
      'http://127.0.0.1:4001',
      'https://127.0.0.1:4000',
      'http://evil.example:4000',
      'null',
      'http://localhost:4000/path',
      'http://10.0.0.9:4000',
    ]) {
      expect(address.isOwnOrigin(foreign)).toBe(false);
    }
  });

  it('bound to every interface: the loopback names and the addresses of the machine', () => {
    const address = addressOf(null, { address: '0.0.0.0', port: 8080 });
    expect(address.isOwnOrigin('http://127.0.0.1:8080')).toBe(true);
    expect(address.isOwnOrigin('http://localhost:8080')).toBe(true);
    expect(address.isOwnOrigin('http://0.0.0.0:8080')).toBe(false);
    expect(address.isOwnOrigin('http://evil.example:8080')).toBe(false);
  });
});
