// Smoke check of what `make up` serves (not part of `make test`): opens https://localhost:3000,
// registers 1004 with the password from compose/.env against wss://localhost:8189/ws (the
// normal profile, not loopback), calls *43 and checks that the fake microphone's 440 Hz tone
// comes back.    node e2e/smoke-up.mjs   (SMOKE_URL, SMOKE_WSS, SMOKE_ENV_FILE, E2E_CHROMIUM)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const URL_APP = process.env.SMOKE_URL ?? 'https://localhost:3000/';
const WSS = process.env.SMOKE_WSS ?? 'wss://localhost:8189/ws';
// SMOKE_ENV_FILE: another compose/.env (scripts/test-containers.sh: the run's copy)
const ENV_FILE = process.env.SMOKE_ENV_FILE ?? join(REPO, 'compose/.env');
const password = /^EXT_1004_PASSWORD=(.*)$/m.exec(readFileSync(ENV_FILE, 'utf8'))?.[1];
if (!password) throw new Error(`EXT_1004_PASSWORD ausente em ${ENV_FILE}`);
const tmp = mkdtempSync(join(tmpdir(), 'softphone-smoke-'));
const wav = join(tmp, 'a.wav');
spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', wav, 'synth', '30', 'sine', '440', 'vol', '0.5']);
const browser = await chromium.launch({
  executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`,
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  await page.goto(URL_APP);
  await page.getByLabel('Servidor (WebSocket)').fill(WSS);
  await page.getByLabel('Ramal', { exact: true }).fill('1004');
  await page.getByLabel('Senha', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Conectar' }).click();
  await page.getByTestId('registration').filter({ hasText: 'Registrado como ramal 1004' }).waitFor({ timeout: 15000 });
  await page.getByLabel('Número a discar').fill('*43');
  await page.getByRole('button', { name: 'Ligar' }).click();
  await page.locator('[data-testid="call"][data-status="active"]').waitFor({ timeout: 15000 });
  const deadline = Date.now() + 10000;
  let level = 0;
  while (Date.now() < deadline && level <= 5) {
    await page.waitForTimeout(300);
    level = Number(await page.getByTestId('speaker-level').getAttribute('data-level'));
  }
  if (level <= 5) throw new Error(`sem áudio de volta do *43 (nível ${level})`);
  process.stdout.write(`ok: registrado, *43 atendido, nível do áudio recebido ${level}\n`);
  await page.getByRole('button', { name: 'Desligar' }).click();
} finally {
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}
