// End-to-end: the built softphone in Debian's Chromium (playwright-core, no browser download)
// against the real Asterisk (loopback profile), with the microphone faked from WAV tones and
// the audio measured in the page with a WebAudio analyser.
//
// Run by scripts/test.d/softphone.sh, which holds /tmp/pabx-asterisk.lock and starts Asterisk
// with PABX_LOOPBACK=1. Environment:
//   E2E_ASTERISK_WSS  (wss://127.0.0.1:8189/ws)   E2E_ENV_FILE (compose/.env)
//   E2E_CHROMIUM      (/usr/bin/chromium)          E2E_PYTHON (.venv/bin/python, for the PJSUA2 phone)
//   E2E_SCREENSHOTS   folder for the screenshots (docs/img/softphone)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(APP, '../..');
const WSS = process.env.E2E_ASTERISK_WSS ?? 'wss://127.0.0.1:8189/ws';
const ENV_FILE = process.env.E2E_ENV_FILE ?? join(REPO, 'compose/.env');
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.E2E_PYTHON ?? join(REPO, '.venv/bin/python');
const SHOTS = process.env.E2E_SCREENSHOTS ?? join(REPO, 'docs/img/softphone');
const CERT_DIR = join(REPO, 'compose/certs');

function readEnv(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * One IPv4 ICE candidate per browser. Asterisk (loopback profile) offers only 127.0.0.1;
 * with Chromium's loopback candidate allowed as well as the host's own address, each call
 * had two IPv4 pairs: Chromium started on the loopback pair and moved to the other one
 * mid-call, Asterisk's strict RTP dropped the new source until it qualified, and ICE
 * sometimes took 8 s to complete (the IVR prompt and the digit lost, 2026-12-08, seen
 * with Asterisk's RTP debug log). So loopback is allowed only on a host that has no other
 * IPv4 address.
 */
function hasOtherIPv4() {
  return Object.values(networkInterfaces()).flat()
    .some((a) => a && a.family === 'IPv4' && !a.internal);
}

function chromeArgs(wav) {
  return [
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    ...(hasOtherIPv4() ? [] : ['--allow-loopback-in-peer-connection']),
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
  ];
}

/** Dominant frequency and RMS of the call's remote audio, measured in the page. */
async function measureRemote(page, ms = 1200) {
  return page.evaluate(async (duration) => {
    const el = document.querySelector('[data-testid="remote-audio"]');
    const stream = el && el.srcObject;
    if (!stream || stream.getAudioTracks().length === 0) return { hz: 0, rms: 0 };
    const ctx = new AudioContext();
    await ctx.resume();
    const src = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    an.smoothingTimeConstant = 0;
    src.connect(an);
    const freq = new Float32Array(an.frequencyBinCount);
    const td = new Float32Array(an.fftSize);
    const bins = new Float64Array(an.frequencyBinCount);
    let rms = 0;
    const end = performance.now() + duration;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(freq);
      for (let i = 0; i < freq.length; i++) bins[i] += Math.pow(10, freq[i] / 20);
      an.getFloatTimeDomainData(td);
      let s = 0;
      for (const v of td) s += v * v;
      rms = Math.max(rms, Math.sqrt(s / td.length));
    }
    let best = 1;
    for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    const hz = (best * ctx.sampleRate) / an.fftSize;
    src.disconnect();
    await ctx.close();
    return { hz, rms };
  }, ms);
}

/** ICE/DTLS/RTP state of the page's peer connections, for failure messages. */
async function mediaDiagnostics(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__pcs ?? []) {
      const parts = [`pc ice=${pc.iceConnectionState} conn=${pc.connectionState} sig=${pc.signalingState}`];
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp') parts.push(`in pkts=${r.packetsReceived} bytes=${r.bytesReceived}`);
        if (r.type === 'outbound-rtp') parts.push(`out pkts=${r.packetsSent}`);
        if (r.type === 'transport') parts.push(`dtls=${r.dtlsState}`);
        if (r.type === 'candidate-pair') {
          parts.push(`pair${r.nominated ? '*' : ''}=${r.state} req=${r.requestsSent ?? 0}/${r.requestsReceived ?? 0} resp=${r.responsesReceived ?? 0}/${r.responsesSent ?? 0}`);
        }
        if (r.type === 'local-candidate' || r.type === 'remote-candidate') {
          parts.push(`${r.type === 'local-candidate' ? 'local' : 'remote'}=${r.candidateType}/${r.protocol} ${r.address ?? r.ip}:${r.port}`);
        }
      });
      const el = document.querySelector('[data-testid="remote-audio"]');
      const t = el && el.srcObject && el.srcObject.getAudioTracks()[0];
      if (t) parts.push(`track muted=${t.muted} state=${t.readyState}`);
      out.push(parts.join(' '));
    }
    return out.join(' | ') || 'sem RTCPeerConnection';
  });
}

/** Polls the remote audio until it carries `hz` (±15 Hz) above a small level. */
async function expectTone(page, hz, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last = { hz: 0, rms: 0 };
  while (Date.now() < deadline) {
    last = await measureRemote(page);
    if (last.rms > 0.01 && Math.abs(last.hz - hz) < 15) return last;
  }
  const diag = await mediaDiagnostics(page);
  assert.fail(`esperava ${hz} Hz no áudio recebido; medido ${last.hz.toFixed(1)} Hz, RMS ${last.rms.toFixed(4)}; ${diag}`);
}

/** Asserts that, after a moment to settle, the remote audio no longer carries `hz`. */
async function expectNoTone(page, hz) {
  await page.waitForTimeout(800);
  const m = await measureRemote(page, 1200);
  assert.ok(!(m.rms > 0.01 && Math.abs(m.hz - hz) < 15), `ainda se ouve ${hz} Hz (medido ${m.hz.toFixed(1)} Hz, RMS ${m.rms.toFixed(4)})`);
}

async function register(page, ext, password, baseUrl) {
  await page.goto(baseUrl);
  await page.getByLabel('Servidor (WebSocket)').fill(WSS);
  await page.getByLabel('Ramal', { exact: true }).fill(ext);
  await page.getByLabel('Senha', { exact: true }).fill(password);
  await page.getByLabel('Nome de exibição').fill(`Teste ${ext}`);
  await page.getByRole('button', { name: 'Conectar' }).click();
}

async function expectRegistered(page, ext, timeout = 15000) {
  try {
    await page.getByTestId('registration').filter({ hasText: `Registrado como ramal ${ext}` }).waitFor({ timeout });
  } catch (e) {
    const status = await page.getByTestId('registration').textContent().catch(() => '?');
    const alert = await page.getByRole('alert').textContent({ timeout: 500 }).catch(() => '(sem alerta)');
    throw new Error(`${ext} não registrou: status "${status}", alerta "${alert}"`, { cause: e });
  }
}

async function dial(page, number) {
  await page.getByLabel('Número a discar').fill(number);
  await page.getByRole('button', { name: 'Ligar' }).click();
}

async function callStatus(page, status, timeout = 15000) {
  await page.locator(`[data-testid="call"][data-status="${status}"]`).waitFor({ timeout });
}

async function hangupAndWait(page) {
  await page.getByRole('button', { name: 'Desligar' }).click();
  await page.getByTestId('call').waitFor({ state: 'detached', timeout: 10000 });
}

const cspRefusals = new WeakMap();
let server;
let baseUrl;
let env;
let tmp;
let browserA; // fake mic: 440 Hz
let browserB; // fake mic: 660 Hz
const contexts = [];

async function newPage(browser, options = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 900 }, ...options });
  contexts.push(ctx);
  const page = await ctx.newPage();
  // Test-only instrumentation: keep the page's RTCPeerConnections for diagnostics on failure.
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__pcs.push(this);
      }
    };
  });
  // Uncaught errors in the page fail the run loudly.
  page.on('pageerror', (err) => process.stderr.write(`[página ${page.url()}] erro: ${err.message}\n`));
  // What the page's Content-Security-Policy (server/serve.mjs) refused: must stay empty.
  const refused = [];
  cspRefusals.set(page, refused);
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) refused.push(m.text());
  });
  if (process.env.E2E_DEBUG) {
    await page.addInitScript(() => localStorage.setItem('debug', 'JsSIP:*'));
    page.on('console', (m) => process.stderr.write(`[console] ${m.text()}\n`));
  }
  return page;
}

/** 1004 on browser A (440 Hz) and 1005 on browser B (660 Hz), both registered. */
async function twoPhones() {
  const a = await newPage(browserA);
  const b = await newPage(browserB);
  await register(a, '1004', env.EXT_1004_PASSWORD, baseUrl);
  await register(b, '1005', env.EXT_1005_PASSWORD, baseUrl);
  await expectRegistered(a, '1004');
  await expectRegistered(b, '1005');
  return [a, b];
}

before(async () => {
  env = readEnv(ENV_FILE);
  assert.ok(env.EXT_1004_PASSWORD && env.EXT_1005_PASSWORD, `senhas de 1004/1005 ausentes em ${ENV_FILE}`);
  tmp = mkdtempSync(join(tmpdir(), 'softphone-e2e-'));
  mkdirSync(SHOTS, { recursive: true });
  for (const [hz, name] of [[440, 'a'], [660, 'b']]) {
    const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', join(tmp, `${name}.wav`), 'synth', '60', 'sine', String(hz), 'vol', '0.5']);
    assert.equal(r.status, 0, `sox falhou: ${r.stderr}`);
  }
  const cert = existsSync(join(CERT_DIR, 'asterisk.crt')) ? 'asterisk' : 'softphone';
  server = spawn(process.execPath, [join(APP, 'server/serve.mjs')], {
    env: {
      ...process.env,
      SOFTPHONE_PORT: '0',
      SOFTPHONE_HOST: '127.0.0.1',
      SOFTPHONE_CERT: join(CERT_DIR, `${cert}.crt`),
      SOFTPHONE_KEY: join(CERT_DIR, `${cert}.key`),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  baseUrl = await new Promise((res, rej) => {
    server.stdout.once('data', (d) => {
      const m = /https:\/\/[^:]+:(\d+)\//.exec(String(d));
      if (m) res(`https://127.0.0.1:${m[1]}/`);
      else rej(new Error(`saída inesperada do servidor: ${d}`));
    });
    server.once('exit', (code) => rej(new Error(`servidor saiu com ${code}`)));
  });
  const launch = (wav) => chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromeArgs(wav) });
  browserA = await launch(join(tmp, 'a.wav'));
  browserB = await launch(join(tmp, 'b.wav'));
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browserA?.close();
  await browserB?.close();
  server?.kill();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('softphone contra o Asterisk real', { concurrency: false }, () => {
  test('1004 registra, liga para *43 e ouve o próprio áudio de volta', async () => {
    const page = await newPage(browserA);
    await register(page, '1004', env.EXT_1004_PASSWORD, baseUrl);
    await expectRegistered(page, '1004');
    await page.screenshot({ path: join(SHOTS, 'idle.png') });
    await dial(page, '*43');
    await callStatus(page, 'active');
    const heard = await expectTone(page, 440);
    // The in-app meters move too.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="mic-level"]')?.dataset.level) > 0);
    await page.screenshot({ path: join(SHOTS, 'in-call.png') });
    assert.ok(heard.rms > 0.01);
    await hangupAndWait(page);
    await page.getByTestId('history').filter({ hasText: 'Para *43' }).waitFor();
    // issue 15: the page came with CSP and HSTS, broke none of the policy's rules, and the
    // SIP password is nowhere in localStorage
    const answer = await page.request.get(baseUrl);
    assert.match(answer.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    assert.match(answer.headers()['strict-transport-security'] ?? '', /^max-age=\d+/);
    assert.deepEqual(cspRefusals.get(page), []);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    assert.ok(!stored.includes(env.EXT_1004_PASSWORD), 'senha no localStorage');
    await page.context().close();
  });

  test('1005 liga para 1004, que toca, atende pelo teclado e os dois se ouvem', async () => {
    const [a, b] = await twoPhones();
    await dial(b, '1004');
    await callStatus(a, 'incoming');
    await a.getByText('1005', { exact: false }).first().waitFor();
    await a.screenshot({ path: join(SHOTS, 'incoming-call.png') });
    // "Atender" has the focus: answering with the keyboard alone.
    await a.keyboard.press('Enter');
    await callStatus(a, 'active');
    await callStatus(b, 'active');
    await expectTone(a, 660); // 1004 hears 1005's microphone
    await expectTone(b, 440); // 1005 hears 1004's microphone
    await hangupAndWait(b);
    await a.getByTestId('call').waitFor({ state: 'detached', timeout: 10000 });
    await a.getByTestId('history').filter({ hasText: 'Recebida de 1005' }).waitFor();
    await a.context().close();
    await b.context().close();
  });

  test('silenciar, espera e transferência cega: 1005 deixa de ouvir e depois cai no *43', async () => {
    const [a, b] = await twoPhones();
    await dial(a, '1005');
    await callStatus(b, 'incoming');
    await b.getByRole('button', { name: 'Atender' }).click();
    await callStatus(a, 'active');
    await expectTone(b, 440);
    await a.getByRole('button', { name: 'Silenciar' }).click();
    await expectNoTone(b, 440);
    await a.getByRole('button', { name: 'Reativar microfone' }).click();
    await expectTone(b, 440);
    await a.getByRole('button', { name: 'Colocar em espera' }).click();
    await a.getByRole('heading', { name: 'Em espera' }).waitFor();
    await expectNoTone(b, 440);
    await a.getByRole('button', { name: 'Retomar' }).click();
    await expectTone(b, 440);
    // Blind transfer of 1005 to the echo: 1004 leaves, 1005 then hears its own 660 Hz.
    await a.getByRole('button', { name: 'Transferir' }).click();
    await a.getByLabel('Transferir para (ramal ou número)').fill('*43');
    await a.getByRole('button', { name: 'Transferir agora' }).click();
    await a.getByTestId('call').waitFor({ state: 'detached', timeout: 10000 });
    await a.getByTestId('history').filter({ hasText: 'transferida' }).waitFor();
    await expectTone(b, 660);
    await hangupAndWait(b);
    await a.context().close();
    await b.context().close();
  });

  test('1004 liga para a URA (9), tecla 1 (RFC 4733) e o telefone PJSUA2 1001 toca', async (t) => {
    const phoneScript = join(APP, 'e2e/pjsua_phone.py');
    const probe = existsSync(PYTHON) && existsSync(join(REPO, 'tests/support/sipphone.py'))
      ? spawnSync(PYTHON, ['-c', 'import pjsua2'], { cwd: REPO })
      : { status: 1 };
    if (probe.status !== 0 || !env.EXT_1001_PASSWORD) {
      // make test bootstraps .venv with pjsua2: there, a missing phone is a failure.
      assert.notEqual(process.env.E2E_REQUIRE_PJSUA, '1', `pjsua2 indisponível em ${PYTHON}`);
      t.skip('pjsua2/tests/support/sipphone.py indisponível');
      return;
    }
    const phone = spawn(PYTHON, [phoneScript, '1001'], {
      cwd: REPO,
      env: { ...process.env, PHONE_PASSWORD: env.EXT_1001_PASSWORD, PYTHONPATH: join(REPO, 'tests/support') },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = [];
    const waitLine = (word, ms) => new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`o telefone 1001 não disse ${word} em ${ms} ms (${lines.join(' | ')})`)), ms);
      const check = () => {
        if (lines.includes(word)) {
          clearTimeout(timer);
          res();
        }
      };
      phone.stdout.on('data', (d) => {
        lines.push(...String(d).split('\n').map((l) => l.trim()).filter(Boolean));
        check();
      });
      check();
    });
    try {
      await waitLine('REGISTERED', 15000);
      const page = await newPage(browserA);
      await register(page, '1004', env.EXT_1004_PASSWORD, baseUrl);
      await expectRegistered(page, '1004');
      await dial(page, '9');
      await callStatus(page, 'active');
      await page.waitForTimeout(1500); // the menu prompt starts
      await page.getByRole('button', { name: 'Tecla 1' }).click();
      await waitLine('RINGING', 20000);
      await hangupAndWait(page);
      await page.context().close();
    } finally {
      phone.stdin.end();
      phone.kill('SIGTERM');
    }
  });

  test('1004 liga para o agente (2000) e ouve áudio em até 3 s', { skip: process.env.E2E_AGENT !== '1' && 'sip-edge não está no ar (scripts/test.d/softphone.sh o sobe com E2E_AGENT=1)' }, async () => {
    const page = await newPage(browserA);
    await register(page, '1004', env.EXT_1004_PASSWORD, baseUrl);
    await expectRegistered(page, '1004');
    await dial(page, '2000');
    await callStatus(page, 'active', 20000);
    const t0 = Date.now();
    for (;;) {
      const m = await measureRemote(page, 300);
      if (m.rms > 0.01) break;
      if (Date.now() - t0 >= 3000) {
        assert.fail(`nenhum áudio do agente em 3 s; ${await mediaDiagnostics(page)}`);
      }
    }
    await hangupAndWait(page);
    await page.context().close();
  });

  test('senha errada mostra a mensagem em português', async () => {
    const page = await newPage(browserA);
    await register(page, '1004', 'senha-errada-de-proposito', baseUrl);
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'Ramal ou senha incorretos' }).waitFor({ timeout: 15000 });
    await page.getByTestId('registration').filter({ hasText: 'Falha no registro' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'error-wrong-password.png') });
    await page.context().close();
  });

  test('certificado ainda não aceito: mensagem com o link para aceitá-lo', async () => {
    // No ignoreHTTPSErrors here: the page itself is served by Playwright's router (an https
    // URL, so a secure context) and the WSS to Asterisk meets its self-signed certificate.
    const ctx = await browserA.newContext({ viewport: { width: 1000, height: 900 } });
    contexts.push(ctx);
    const dist = join(APP, 'dist');
    await ctx.route('https://softphone.test/**', (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = path === '/' ? join(dist, 'index.html') : join(dist, path);
      return existsSync(file) ? route.fulfill({ path: file }) : route.fulfill({ status: 404 });
    });
    const page = await ctx.newPage();
    await register(page, '1004', env.EXT_1004_PASSWORD, 'https://softphone.test/');
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'ainda não aceitou o certificado' }).waitFor({ timeout: 15000 });
    const host = new URL(WSS).host;
    assert.equal(await alert.getByRole('link').getAttribute('href'), `https://${host}/`);
    await page.screenshot({ path: join(SHOTS, 'error-certificate.png') });
    await ctx.close();
  });

  test('conexão perdida: mensagem em português e novo registro automático', { skip: process.env.E2E_RESTART_ASTERISK !== '1' && 'só com E2E_RESTART_ASTERISK=1 (o runner segura a trava do Asterisk)' }, async () => {
    const page = await newPage(browserA);
    await register(page, '1004', env.EXT_1004_PASSWORD, baseUrl);
    await expectRegistered(page, '1004');
    const asterisk = (cmd) => {
      const r = spawnSync('bash', [join(REPO, 'scripts/asterisk.sh'), cmd], {
        env: { ...process.env, PABX_LOOPBACK: '1', PABX_ASTERISK_LOCK_HELD: '1' },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `asterisk.sh ${cmd}: ${r.stderr}`);
    };
    asterisk('stop');
    await page.getByRole('alert').filter({ hasText: 'Conexão com o servidor perdida' }).waitFor({ timeout: 15000 });
    await page.getByTestId('registration').filter({ hasText: 'Reconectando' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'error-connection-lost.png') });
    asterisk('start');
    // Our backoff retries (1, 2, 4, 8, 15, 30 s: DEFAULT_DELAYS in src/sip/phone.ts) bring it
    // back. Asterisk was down for as long as the steps above took, so the next retry may be
    // one 15 s or 30 s step away: wait for that step, not a fixed 15 s (a clean-clone run
    // failed at 20.5 s with the retry still pending; alone it re-registers in ~10 s).
    await expectRegistered(page, '1004', 45000);
    assert.equal(await page.getByRole('alert').count(), 0);
    await page.context().close();
  });

});
