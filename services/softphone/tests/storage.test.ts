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

  it('never keeps the password unless asked', () => {
    const s = { ...loadSettings(localStorage, { hostname: 'h' }), password: 'p' };
    saveSettings(localStorage, s);
    expect(localStorage.getItem('softphone.settings')).not.toContain('"p"');
    saveSettings(localStorage, { ...s, rememberPassword: true });
    expect(loadSettings(localStorage).password).toBe('p');
    // A stored password without the flag (edited by hand) is ignored.
    localStorage.setItem('softphone.settings', JSON.stringify({ password: 'x', rememberPassword: 'yes' }));
    expect(loadSettings(localStorage).password).toBe('');
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
