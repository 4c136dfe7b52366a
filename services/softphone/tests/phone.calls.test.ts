import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../src/sip/phone';
import { flush, registeredPhone } from './helpers';

function recording(phone: ReturnType<typeof registeredPhone>['phone']): CallRecord[] {
  const records: CallRecord[] = [];
  phone.onCallRecord((r) => records.push(r));
  return records;
}

describe('Phone calls', () => {
  it('outgoing: dialing -> ringing -> active -> hang up, with a history record', async () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    await env.phone.call(' *43 ');
    const { target, session, stream } = env.factory.last.calls[0]!;
    expect(target).toBe('*43');
    expect(stream).toBe(env.media.given[0]);
    expect(env.phone.getSnapshot().call).toMatchObject({ status: 'dialing', direction: 'outgoing', peer: '*43' });
    session.progress();
    expect(env.phone.getSnapshot().call?.status).toBe('ringing');
    session.accept();
    const active = env.phone.getSnapshot().call!;
    expect(active.status).toBe('active');
    expect(active.answeredAt).toBe(env.clock.now());
    env.clock.advance(65_000);
    env.phone.hangup();
    expect(session.actions).toEqual(['hangup']);
    expect(env.phone.getSnapshot().call).toBeNull();
    expect(env.phone.getSnapshot().notice).toBeNull();
    expect(records).toEqual([{ direction: 'outgoing', peer: '*43', startedAt: active.startedAt, durationS: 65, result: 'answered' }]);
    // The microphone is released when the call ends.
    expect(env.media.given[0]!.getTracks()[0]!.readyState).toBe('ended');
  });

  it('does not call when not registered, with an empty number, or during a call', async () => {
    const env = registeredPhone();
    await env.phone.call('   ');
    expect(env.factory.last.calls).toHaveLength(0);
    await env.phone.call('1005');
    await env.phone.call('1006');
    expect(env.factory.last.calls).toHaveLength(1);
    env.phone.disconnect();
    await env.phone.call('1005');
    expect(env.factory.last.calls).toHaveLength(1);
  });

  it('a busy far end ends the call with a Portuguese notice', async () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    await env.phone.call('1005');
    env.factory.last.calls[0]!.session.end('busy');
    expect(env.phone.getSnapshot().notice).toBe('Ocupado.');
    expect(records[0]?.result).toBe('failed');
  });

  it('microphone permission denied: no INVITE, clear message', async () => {
    const env = registeredPhone();
    env.media.deny = 'NotAllowedError';
    await env.phone.call('1005');
    expect(env.factory.last.calls).toHaveLength(0);
    const s = env.phone.getSnapshot();
    expect(s.call).toBeNull();
    expect(s.error?.kind).toBe('mic-denied');
    expect(s.error?.message).toContain('Permissão do microfone negada');
    // A later registration refresh does not hide it.
    env.factory.last.registered();
    expect(env.phone.getSnapshot().error?.kind).toBe('mic-denied');
  });

  it('no microphone at all is told apart from a refusal', async () => {
    const env = registeredPhone();
    env.media.deny = 'NotFoundError';
    await env.phone.call('1005');
    expect(env.phone.getSnapshot().error?.kind).toBe('no-microphone');
  });

  it('hanging up while the microphone is being opened sends nothing', async () => {
    const env = registeredPhone();
    const pending = env.phone.call('1005');
    env.phone.hangup();
    await pending;
    expect(env.factory.last.calls).toHaveLength(0);
    expect(env.media.given[0]!.getTracks()[0]!.readyState).toBe('ended');
  });

  it('incoming: ring, answer with the microphone, remote hang-up', async () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    const s = env.factory.last.incoming('1005', 'Maria');
    expect(env.phone.getSnapshot().call).toMatchObject({ status: 'incoming', peer: '1005', peerName: 'Maria' });
    await env.phone.answer();
    expect(s.actions).toEqual(['answer']);
    expect(s.answeredWith).toBe(env.media.given[0]);
    s.accept();
    expect(env.phone.getSnapshot().call?.status).toBe('active');
    s.end('bye');
    expect(env.phone.getSnapshot().call).toBeNull();
    expect(records[0]).toMatchObject({ direction: 'incoming', peer: '1005', result: 'answered' });
  });

  it('incoming: reject sends 603 and records it', () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    const s = env.factory.last.incoming('1005');
    env.phone.reject();
    expect(s.actions).toEqual(['reject:decline']);
    expect(records[0]?.result).toBe('rejected');
  });

  it('incoming: the caller giving up is a missed call', () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    env.factory.last.incoming('1005').end('canceled');
    expect(records[0]?.result).toBe('missed');
    expect(env.phone.getSnapshot().notice).toBeNull();
  });

  it('a second incoming call while busy gets 486 and shows up as missed', async () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    await env.phone.call('*43');
    const second = env.factory.last.incoming('1005');
    expect(second.actions).toEqual(['reject:busy']);
    expect(env.phone.getSnapshot().call?.peer).toBe('*43');
    expect(records[0]).toMatchObject({ peer: '1005', result: 'missed' });
  });

  it('mute, hold, DTMF and transfer only act on an active call', async () => {
    const env = registeredPhone();
    await env.phone.call('9');
    const session = env.factory.last.calls[0]!.session;
    env.phone.toggleMute();
    env.phone.toggleHold();
    expect(env.phone.sendDtmf('1')).toBe(false);
    env.phone.transfer('1001');
    expect(session.actions).toEqual([]);
    session.accept();
    env.phone.toggleMute();
    expect(env.phone.getSnapshot().call?.muted).toBe(true);
    env.phone.toggleMute();
    env.phone.toggleHold();
    expect(env.phone.getSnapshot().call?.held).toBe(true);
    env.phone.toggleHold();
    expect(env.phone.sendDtmf('1')).toBe(true);
    expect(env.phone.sendDtmf('#')).toBe(true);
    expect(env.phone.sendDtmf('x')).toBe(false);
    expect(env.phone.sendDtmf('12')).toBe(false);
    env.phone.transfer('  ');
    env.phone.transfer('1001');
    expect(session.actions).toEqual(['mute', 'unmute', 'hold', 'unhold', 'dtmf:1', 'dtmf:#', 'transfer:1001']);
  });

  it('a blind transfer ends our leg as "transferred"', async () => {
    const env = registeredPhone();
    const records = recording(env.phone);
    await env.phone.call('1005');
    const session = env.factory.last.calls[0]!.session;
    session.accept();
    env.phone.transfer('1001');
    session.end('bye');
    expect(records[0]?.result).toBe('transferred');
  });

  it('switching the microphone mid-call swaps the track and releases the old one', async () => {
    const env = registeredPhone();
    await env.phone.call('1005');
    const session = env.factory.last.calls[0]!.session;
    session.accept();
    await env.phone.setMicrophone('usb-mic');
    expect(env.media.requested).toEqual([null, 'usb-mic']);
    expect(session.actions).toEqual(['replace-track']);
    expect(env.phone.getSnapshot().call?.localStream).toBe(env.media.given[1]);
    expect(env.media.given[0]!.getTracks()[0]!.readyState).toBe('ended');
    await flush();
  });
});

describe('Phone media recovery', () => {
  /** A registered phone, its socket up, in an answered call to 1005; and the call's session. */
  async function answeredCall() {
    const env = registeredPhone();
    env.factory.last.connected = true;
    await env.phone.call('1005');
    const session = env.factory.last.calls[0]!.session;
    session.accept();
    return { env, session };
  }

  it('ICE "disconnected" for 2 s triggers an ICE restart; recovering first cancels it', async () => {
    const { env, session } = await answeredCall();
    session.ice('disconnected');
    session.ice('connected');
    env.clock.advance(5000);
    expect(session.actions).toEqual([]);
    session.ice('disconnected');
    env.clock.advance(2000);
    expect(session.actions).toEqual(['ice-restart']);
    expect(env.phone.getSnapshot().call?.iceRestarts).toBe(1);
    session.ice('failed');
    env.clock.advance(0);
    expect(session.actions).toEqual(['ice-restart', 'ice-restart']);
  });

  it('a dropped socket during a call keeps the dialog, re-registers and restarts ICE when back', async () => {
    const env = registeredPhone();
    const ua = env.factory.last;
    await env.phone.call('1005');
    const session = ua.calls[0]!.session;
    session.accept();
    ua.drop();
    expect(ua.stopped).toBe(false);
    expect(env.phone.getSnapshot().registration).toBe('reconnecting');
    expect(env.phone.getSnapshot().call?.status).toBe('active');
    // The network came back: the library's socket reconnects, we REGISTER and restart ICE.
    ua.connect();
    expect(ua.registers).toBe(2);
    expect(session.actions).toEqual(['ice-restart']);
    ua.registered();
    expect(env.phone.getSnapshot().error).toBeNull();
  });

  it('if the call ends while the socket is still down, the normal reconnect takes over', async () => {
    const env = registeredPhone();
    const ua = env.factory.last;
    await env.phone.call('1005');
    ua.calls[0]!.session.accept();
    ua.drop();
    ua.calls[0]!.session.end('connection');
    expect(env.phone.getSnapshot().notice).toContain('conexão caiu');
    expect(ua.stopped).toBe(true);
    env.clock.advance(1000);
    expect(env.factory.all).toHaveLength(2);
  });

  it('networkChanged during a call restarts ICE at once', async () => {
    const { env, session } = await answeredCall();
    env.phone.networkChanged();
    expect(session.actions).toEqual(['ice-restart']);
  });
});
