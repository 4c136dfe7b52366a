import { describe, expect, it } from 'vitest';
import { CONFIG, flush, makePhone, registeredPhone } from './helpers';

describe('Phone registration', () => {
  it('connects, sends REGISTER itself and reports registered', () => {
    const { phone, factory } = makePhone();
    expect(phone.connect(CONFIG)).toBeNull();
    expect(phone.getSnapshot().registration).toBe('connecting');
    const ua = factory.last;
    expect(ua.started).toBe(true);
    expect(ua.config).toEqual(CONFIG);
    ua.connect();
    expect(phone.getSnapshot().registration).toBe('registering');
    expect(ua.registers).toBe(1);
    ua.registered();
    expect(phone.getSnapshot()).toMatchObject({ registration: 'registered', error: null });
  });

  it('rejects incomplete or malformed settings without building a user agent', () => {
    const { phone, factory } = makePhone();
    expect(phone.connect({ ...CONFIG, server: 'pabx:8189' })?.kind).toBe('invalid-settings');
    expect(phone.connect({ ...CONFIG, server: 'https://pabx:8189/ws' })?.message).toMatch(/wss:\/\//);
    expect(phone.connect({ ...CONFIG, extension: '' })?.message).toMatch(/ramal/);
    expect(phone.connect({ ...CONFIG, extension: '10 04<script>' })?.kind).toBe('invalid-settings');
    expect(phone.connect({ ...CONFIG, password: '' })?.message).toMatch(/senha/);
    expect(factory.all).toHaveLength(0);
    expect(phone.getSnapshot().registration).toBe('off');
  });

  it('a wrong password stops retrying and says so in Portuguese', () => {
    const { phone, factory, clock } = makePhone();
    phone.connect(CONFIG);
    const ua = factory.last;
    ua.connect();
    ua.registrationFailed('auth');
    const s = phone.getSnapshot();
    expect(s.registration).toBe('failed');
    expect(s.error?.kind).toBe('wrong-password');
    expect(s.error?.message).toContain('Ramal ou senha incorretos');
    expect(ua.stopped).toBe(true);
    clock.advance(120_000);
    expect(factory.all).toHaveLength(1);
  });

  it('a first failure to open wss:// points at the certificate, with the link to accept it', () => {
    const { phone, factory } = makePhone();
    phone.connect(CONFIG);
    factory.last.drop();
    const s = phone.getSnapshot();
    expect(s.registration).toBe('reconnecting');
    expect(s.error?.kind).toBe('certificate');
    expect(s.error?.link).toBe('https://pabx.test:8189/');
    expect(s.error?.message).toContain('certificado');
  });

  it('a server reached before, now failing, is reported unreachable', () => {
    const { phone, factory, reached } = makePhone();
    reached.add(CONFIG.server);
    phone.connect(CONFIG);
    factory.last.drop();
    expect(phone.getSnapshot().error?.kind).toBe('unreachable');
    expect(phone.getSnapshot().error?.message).toContain('Servidor inacessível');
  });

  it('ws:// (no TLS) failures are never blamed on a certificate', () => {
    const { phone, factory } = makePhone();
    phone.connect({ ...CONFIG, server: 'ws://pabx.test:8088/ws' });
    factory.last.drop();
    expect(phone.getSnapshot().error?.kind).toBe('unreachable');
  });

  it('retries with growing delays and a fresh user agent each time', () => {
    const { phone, factory, clock } = makePhone();
    phone.connect(CONFIG);
    const delays: (number | null)[] = [];
    for (let i = 0; i < 7; i++) {
      factory.last.drop();
      expect(factory.last.stopped).toBe(true);
      delays.push(clock.nextDelay);
      clock.advance(clock.nextDelay ?? 0);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 15000, 30000, 30000]);
    expect(factory.all).toHaveLength(8);
    factory.last.up();
    expect(phone.getSnapshot()).toMatchObject({ registration: 'registered', error: null });
    // The backoff starts over after a success.
    factory.last.drop();
    expect(clock.nextDelay).toBe(1000);
  });

  it('a lost connection is reported, then re-registration is automatic', () => {
    const { phone, factory, clock } = registeredPhone();
    factory.last.drop();
    expect(phone.getSnapshot().error?.kind).toBe('connection-lost');
    expect(phone.getSnapshot().error?.message).toContain('Tentando registrar novamente');
    clock.advance(1000);
    // Still failing: the message stays "lost connection", not "certificate".
    factory.last.drop();
    expect(phone.getSnapshot().error?.kind).toBe('connection-lost');
    clock.advance(2000);
    const ua = factory.last;
    ua.connect();
    expect(ua.registers).toBe(1);
    ua.registered();
    expect(phone.getSnapshot()).toMatchObject({ registration: 'registered', error: null });
  });

  it('the browser coming back online retries at once', () => {
    const { phone, factory, clock } = registeredPhone();
    factory.last.drop();
    expect(factory.all).toHaveLength(1);
    phone.networkChanged();
    expect(factory.all).toHaveLength(2);
    expect(clock.pending).toBe(0);
  });

  it('registration timeouts go through the reconnect path', () => {
    const { phone, factory, clock } = makePhone();
    phone.connect(CONFIG);
    factory.last.connect();
    factory.last.registrationFailed('timeout');
    expect(phone.getSnapshot().registration).toBe('reconnecting');
    expect(clock.nextDelay).toBe(1000);
  });

  it('ignores events from a user agent it already replaced', () => {
    const { phone, factory, clock } = makePhone();
    phone.connect(CONFIG);
    const old = factory.last;
    old.drop();
    clock.advance(1000);
    old.up();
    expect(phone.getSnapshot().registration).toBe('connecting');
    const stale = old.incoming('1005');
    expect(stale.actions).toEqual(['reject:busy']);
  });

  it('disconnect stops the user agent and any pending retry', async () => {
    const { phone, factory, clock } = registeredPhone();
    await phone.call('1005');
    await flush();
    phone.disconnect();
    expect(factory.last.stopped).toBe(true);
    expect(phone.getSnapshot()).toMatchObject({ registration: 'off', call: null });
    clock.advance(60_000);
    expect(factory.all).toHaveLength(1);
  });
});
