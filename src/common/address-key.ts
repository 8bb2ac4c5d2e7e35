import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key an address is counted under by the per-address limits. An IPv6 client is usually given
 * a whole /64 (2^64 addresses): counted per address it would have a fresh budget for every
 * request, so IPv6 addresses count per /64 network. An IPv4 client counts per address, also when
 * it arrives written as IPv6 (IPv4-mapped ::ffff:a.b.c.d in either notation, IPv4-compatible,
 * or NAT64 64:ff9b::/96): each of those is one IPv4 client, not a /64 shared with strangers.
 * Loopback (::1) counts per address.
 */
export function addressKey(address: string): string {
  if (!isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return address;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  const embeddedIPv4 = () => [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  // ::1 and :: are single addresses of their own.
  if (zeros(0, 7) && groups[7] <= 1) return address;
  if (zeros(0, 5) && (groups[5] === 0xffff || groups[5] === 0)) return embeddedIPv4();
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return embeddedIPv4();
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, an IPv4 tail as two groups), or null. */
function ipv6Groups(address: string): number[] | null {
  let text = address.split('%')[0];
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (isIPv4(tail)) {
    const [a, b, c, d] = tail.split('.').map(Number);
    text = `${text.slice(0, text.lastIndexOf(':') + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const all = rest === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...restGroups];
  if (all.length !== 8 || !all.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  return all.map((group) => parseInt(group, 16));
}

/**
 * The network an address belongs to, as the new-device check sees it: /24 for IPv4 (also when
 * written as IPv6), /48 for IPv6, the address itself for loopback. Moving within a home or an
 * office network is not a new device; a sign-in from another network is.
 */
export function networkPrefix(address: string): string {
  const key = addressKey(address);
  if (isIPv4(key)) return `${key.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(address)) return key;
  const groups = ipv6Groups(address);
  if (!groups || key === address) return key;
  return `${groups
    .slice(0, 3)
    .map((group) => group.toString(16))
    .join(':')}::/48`;
}
