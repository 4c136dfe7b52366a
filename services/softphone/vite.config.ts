/// <reference types="vitest/config" />
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run dev` serves over HTTPS on :3000 (getUserMedia needs a secure context when the
// page is not opened as localhost). It reuses the certificate that scripts/up.d/50-softphone.sh
// generates in compose/certs/; without it, it falls back to plain HTTP on localhost.
const certDir = resolve(import.meta.dirname, '../../compose/certs');
const cert = resolve(certDir, 'softphone.crt');
const key = resolve(certDir, 'softphone.key');
const https = existsSync(cert) && existsSync(key)
  ? { cert: readFileSync(cert), key: readFileSync(key) }
  : undefined;

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
  },
});
