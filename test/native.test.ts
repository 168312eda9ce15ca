import { describe, expect, it } from 'vitest';
import { loadNative, nativeBinaryPath } from '../src/native.js';

describe('native addon', () => {
  it('loads and reports the N-API version it was built for', () => {
    const addon = loadNative();
    expect(addon.nativeInfo().napiVersion).toBe(8);
    expect(nativeBinaryPath()).toMatch(/\.node$/);
  });
});
