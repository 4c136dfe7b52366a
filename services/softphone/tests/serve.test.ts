// @vitest-environment node
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { createHandler, resolvePath, securityHeaders } from '../server/serve.mjs';

const resolveP = resolvePath as (root: string, url: unknown) => string | null | undefined;
type Answer = { status: number; headers: Record<string, string | number> };
const handler = createHandler as (root: string, headers?: Record<string, string>) => (
  req: { method: string; url: string },
  res: { writeHead(status: number, headers: Record<string, string | number>): void; end(body?: string): void },
) => void;
const headersOf = securityHeaders as (env?: Record<string, string>) => Record<string, string>;

function answer(root: string, method: string, url: string): Answer {
  const out: Answer = { status: 0, headers: {} };
  // HEAD: the handler answers without streaming the file
  handler(root)({ method, url }, {
    writeHead(status, headers) {
      out.status = status;
      out.headers = headers;
    },
    end() {},
  });
  return out;
}

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

describe('security headers', () => {
  it('sends CSP and HSTS on every answer: page, asset, 404, 400 and 405', () => {
    const root = site();
    const answers = [
      answer(root, 'HEAD', '/'),
      answer(root, 'HEAD', '/assets/app.js'),
      answer(root, 'GET', '/assets/missing.js'),
      answer(root, 'GET', '/../etc/passwd'),
      answer(root, 'POST', '/'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404, 400, 405]);
    for (const a of answers) {
      const csp = String(a.headers['Content-Security-Policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain('connect-src \'self\' wss:');
      expect(a.headers['Strict-Transport-Security']).toBe('max-age=31536000');
    }
  });

  it('takes the HSTS max-age from the environment and refuses garbage', () => {
    expect(headersOf({ SOFTPHONE_HSTS_MAX_AGE: '0' })['Strict-Transport-Security']).toBe('max-age=0');
    for (const bad of ['-1', '1y', '', '9999999999']) {
      expect(() => headersOf({ SOFTPHONE_HSTS_MAX_AGE: bad }), bad).toThrow(/SOFTPHONE_HSTS_MAX_AGE/);
    }
  });
});
