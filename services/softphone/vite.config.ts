/// <reference types="vitest/config" />
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run dev` serves over HTTPS on :3000 (getUserMedia needs a secure context when the
// page is not opened as localhost). It reuses the certificate in compose/certs/ (Asterisk's,
// else the one `scripts/softphone.sh cert` generates); without one it serves plain HTTP.
const certDir = resolve(import.meta.dirname, '../../compose/certs');
const pair = ['asterisk', 'softphone']
  .map((name) => ({ cert: resolve(certDir, `${name}.crt`), key: resolve(certDir, `${name}.key`) }))
  .find((p) => existsSync(p.cert) && existsSync(p.key));
const https = pair ? { cert: readFileSync(pair.cert), key: readFileSync(pair.key) } : undefined;

export default defineConfig({
  plugins: [react()],
  server: { host: true, port: 3000, strictPort: true, https },
  preview: { host: true, port: 3000, strictPort: true, https },
  build: { outDir: 'dist', sourcemap: false },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['tests/**/*.test.{ts,tsx}'],
    setupFiles: ['tests/setup.ts'],
    // These tests assert behaviour, not speed: the 5 s default timed out twice in a CI run on
    // 2 cores at load 12 (jsdom set-up alone took 31 s), with every assertion still holding.
    testTimeout: 30_000,
  },
});
