// @vitest-environment node
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { resolvePath } from '../server/serve.mjs';

const resolveP = resolvePath as (root: string, url: unknown) => string | null | undefined;

const sites: string[] = [];
afterEach(() => {
  // nothing left in /tmp for a later run
  for (const root of sites.splice(0)) rmSync(root, { recursive: true, force: true });
});

function site() {
  const root = mkdtempSync(join(tmpdir(), 'softphone-serve-'));
  sites.push(root);
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<html></html>');
  writeFileSync(join(root, 'assets', 'app.js'), '');
  return root;
}

describe('static server path resolution', () => {
  it('serves files, the index and the SPA fallback', () => {
    const root = site();
    expect(resolveP(root, '/')).toBe(join(root, 'index.html'));
    expect(resolveP(root, '/assets/app.js?v=1')).toBe(join(root, 'assets', 'app.js'));
    expect(resolveP(root, '/chamadas')).toBe(join(root, 'index.html'));
    expect(resolveP(root, '/assets/missing.js')).toBeUndefined();
  });

  it('refuses traversal and malformed paths', () => {
    const root = site();
    for (const bad of ['/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fetc%2fpasswd',
      '/%E0%A4%A', '/a%00b', 'relative', '', '/..\\..\\x', 42, undefined]) {
      expect(resolveP(root, bad), String(bad)).toBeNull();
    }
  });
});
