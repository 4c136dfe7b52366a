import { describe, expect, it } from 'vitest';
import { addToHistory, loadHistory, MAX_HISTORY } from '../src/app/history';
import { defaultServer, loadSettings, saveSettings } from '../src/app/settings';
import { formatDuration } from '../src/hooks/useCallTimer';
import { certificatePage, storageReachedServers } from '../src/sip/errors';
import type { CallRecord } from '../src/sip/phone';

const rec = (peer: string): CallRecord => ({ direction: 'outgoing', peer, startedAt: 1, durationS: 2, result: 'answered' });

describe('settings storage', () => {
  it('defaults to this host on port 8189', () => {
    expect(defaultServer({ hostname: 'pabx.lan' })).toBe('wss://pabx.lan:8189/ws');
    expect(loadSettings(localStorage, { hostname: 'pabx.lan' })).toMatchObject({ server: 'wss://pabx.lan:8189/ws', extension: '1004', password: '' });
  });

  it('survives malformed stored data', () => {
    for (const bad of ['{not json', '42', 'null', '[]', '{"server": 7, "extension": null}']) {
      localStorage.setItem('softphone.settings', bad);
      const s = loadSettings(localStorage, { hostname: 'h' });
      expect(s.server).toBe('wss://h:8189/ws');
      expect(s.extension).toBe('1004');
    }
  });

  it('never keeps the password in localStorage, remembered or not', () => {
    const s = { ...loadSettings(localStorage, { hostname: 'h' }, sessionStorage), password: 'p4ss-w0rd' };
    saveSettings(localStorage, s, sessionStorage);
    expect(localStorage.getItem('softphone.settings')).not.toContain('p4ss-w0rd');
    expect(sessionStorage.getItem('softphone.password')).toBeNull();
    saveSettings(localStorage, { ...s, rememberPassword: true }, sessionStorage);
    expect(localStorage.getItem('softphone.settings')).not.toContain('p4ss-w0rd');
    expect(localStorage.getItem('softphone.settings')).not.toContain('password"');
    // remembered in this tab's session memory only
    expect(sessionStorage.getItem('softphone.password')).toBe('p4ss-w0rd');
    expect(loadSettings(localStorage, undefined, sessionStorage).password).toBe('p4ss-w0rd');
    expect(loadSettings(localStorage).password).toBe(''); // no session: nothing
    // unticking forgets it
    saveSettings(localStorage, { ...s, rememberPassword: false }, sessionStorage);
    expect(sessionStorage.getItem('softphone.password')).toBeNull();
  });

  it('removes a password an older version left in localStorage', () => {
    localStorage.setItem('softphone.settings', JSON.stringify({ extension: '1005', password: 'old-secret', rememberPassword: true }));
    const s = loadSettings(localStorage, { hostname: 'h' }, sessionStorage);
    expect(s.extension).toBe('1005');
    expect(s.password).toBe('');
    expect(localStorage.getItem('softphone.settings')).not.toContain('old-secret');
    // A stored password without the flag (edited by hand) is ignored and removed too.
    localStorage.setItem('softphone.settings', JSON.stringify({ password: 'x', rememberPassword: 'yes' }));
    expect(loadSettings(localStorage, undefined, sessionStorage).password).toBe('');
    expect(localStorage.getItem('softphone.settings')).not.toContain('"x"');
  });
});

describe('history storage', () => {
  it('keeps the newest first and at most MAX entries', () => {
    let list: CallRecord[] = [];
    for (let i = 0; i < MAX_HISTORY + 5; i++) list = addToHistory(localStorage, list, rec(String(i)));
    const loaded = loadHistory(localStorage);
    expect(loaded).toHaveLength(MAX_HISTORY);
    expect(loaded[0]?.peer).toBe(String(MAX_HISTORY + 4));
  });

  it('drops malformed entries', () => {
    localStorage.setItem('softphone.history', JSON.stringify([rec('1'), { peer: 2 }, null, { ...rec('3'), result: 'hacked' }]));
    expect(loadHistory(localStorage).map((r) => r.peer)).toEqual(['1']);
    localStorage.setItem('softphone.history', '{');
    expect(loadHistory(localStorage)).toEqual([]);
  });
});

describe('small helpers', () => {
  it('formats call durations', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(65.9)).toBe('01:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(-3)).toBe('00:00');
  });

  it('builds the certificate page from the WSS URL', () => {
    expect(certificatePage('wss://10.0.0.5:8189/ws')).toBe('https://10.0.0.5:8189/');
  });

  it('remembers reached servers per host:port and tolerates garbage', () => {
    const r = storageReachedServers(localStorage);
    expect(r.has('wss://a:8189/ws')).toBe(false);
    r.add('wss://a:8189/ws');
    expect(r.has('wss://a:8189/other')).toBe(true);
    expect(r.has('wss://a:8190/ws')).toBe(false);
    localStorage.setItem('softphone.reachedServers', '{"x":1}');
    expect(r.has('wss://a:8189/ws')).toBe(false);
  });
});
