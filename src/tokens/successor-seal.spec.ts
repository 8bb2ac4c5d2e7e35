import { createHash, randomBytes } from 'node:crypto';
import { openSuccessor, sealSuccessor } from './successor-seal';

describe('successor seal', () => {
  const token = randomBytes(32).toString('base64url');
  const pair = JSON.stringify({ access_token: 'a.b.c', refresh_token: randomBytes(32).toString('base64url') });

  it('opens with the token and row it was sealed for, and hides the plaintext', () => {
    const sealed = sealSuccessor(token, 'row-1', pair);
    expect(openSuccessor(token, 'row-1', sealed)).toBe(pair);
    expect(sealed).not.toContain(JSON.parse(pair).refresh_token);
    // A fresh IV each time.
    expect(sealSuccessor(token, 'row-1', pair)).not.toBe(sealed);
  });

  it('does not open under another token, the stored hash, another row, or once tampered with', () => {
    const sealed = sealSuccessor(token, 'row-1', pair);
    expect(openSuccessor(randomBytes(32).toString('base64url'), 'row-1', sealed)).toBeNull();
    expect(openSuccessor(createHash('sha256').update(token).digest('hex'), 'row-1', sealed)).toBeNull();
    expect(openSuccessor(token, 'row-2', sealed)).toBeNull();
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[2], 'base64url');
    flipped[0] ^= 1;
    expect(openSuccessor(token, 'row-1', [parts[0], parts[1], flipped.toString('base64url'), parts[3]].join('.'))).toBeNull();
    expect(openSuccessor(token, 'row-1', 'v2.x.y.z')).toBeNull();
    expect(openSuccessor(token, 'row-1', 'garbage')).toBeNull();
  });
});
