import { useCallback, useEffect, useRef, useState } from 'react';
import { addToHistory, clearHistory, loadHistory } from './app/history';
import { askNotificationPermission, type Ringer } from './app/ringer';
import { loadSettings, saveSettings, type Settings } from './app/settings';
import { AudioSettings } from './components/AudioSettings';
import { CallPanel } from './components/CallPanel';
import { DialPad } from './components/DialPad';
import { ErrorBanner } from './components/ErrorBanner';
import { History } from './components/History';
import { SettingsForm } from './components/SettingsForm';
import { StatusBar } from './components/StatusBar';
import { useAudioLevel } from './hooks/useAudioLevel';
import { useDevices } from './hooks/useDevices';
import { usePhone } from './hooks/usePhone';
import type { Phone } from './sip/phone';

export interface AppProps {
  phone: Phone;
  storage: Storage | null;
  ringer: Ringer;
  /** Where a remembered password lives (sessionStorage: this tab only); never localStorage. */
  session?: Storage | null;
}

const DIAL_KEY = /^[0-9*#]$/;

function isTextField(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  const tag = el.tagName;
  return tag === 'TEXTAREA' || tag === 'SELECT' || (tag === 'INPUT' && (el as HTMLInputElement).type !== 'checkbox');
}

export function App({ phone, storage, ringer, session = null }: AppProps) {
  const snap = usePhone(phone);
  const [settings, setSettings] = useState<Settings>(() => loadSettings(storage, globalThis.location, session));
  const [number, setNumber] = useState('');
  const [history, setHistory] = useState(() => loadHistory(storage));
  const [dismissed, setDismissed] = useState<unknown>(null);
  const audioRef = useRef<HTMLAudioElement>(null);
  const call = snap.call;
  const registered = snap.registration === 'registered';
  const connected = snap.registration !== 'off' && snap.registration !== 'failed';
  const devices = useDevices(call?.localStream ?? null);
  const inputLevel = useAudioLevel(call?.localStream ?? null);
  const outputLevel = useAudioLevel(call?.remoteStream ?? null);

  useEffect(() => phone.onCallRecord((r) => setHistory((h) => addToHistory(storage, h, r))), [phone, storage]);

  // Ring while an incoming call waits.
  const incomingFrom = call?.status === 'incoming' ? call.peer : null;
  useEffect(() => {
    if (incomingFrom === null) return undefined;
    ringer.start(incomingFrom);
    return () => ringer.stop();
  }, [incomingFrom, ringer]);

  // Remote audio to the chosen speaker.
  useEffect(() => {
    const el = audioRef.current;
    if (!el) return;
    const stream = call?.remoteStream ?? null;
    if (el.srcObject !== stream) el.srcObject = stream;
    if (stream) void el.play().catch(() => undefined);
  }, [call?.remoteStream]);
  const canChooseSpeaker = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  useEffect(() => {
    const el = audioRef.current as (HTMLAudioElement & { setSinkId?(id: string): Promise<void> }) | null;
    if (el?.setSinkId && canChooseSpeaker) void el.setSinkId(settings.speakerId).catch(() => undefined);
  }, [settings.speakerId, canChooseSpeaker, call?.remoteStream]);

  // Re-register / restart ICE when the network or the page comes back.
  useEffect(() => {
    const again = () => phone.networkChanged();
    const visible = () => {
      if (document.visibilityState === 'visible') phone.networkChanged();
    };
    window.addEventListener('online', again);
    document.addEventListener('visibilitychange', visible);
    return () => {
      window.removeEventListener('online', again);
      document.removeEventListener('visibilitychange', visible);
    };
  }, [phone]);

  const updateSettings = useCallback((patch: Partial<Settings>) => {
    setSettings((s) => {
      const next = { ...s, ...patch };
      saveSettings(storage, next, session);
      return next;
    });
  }, [storage, session]);

  const connect = (s: Settings) => {
    askNotificationPermission();
    updateSettings(s);
    setDismissed(null);
    void phone.setMicrophone(s.microphoneId || null);
    phone.connect({ server: s.server.trim(), extension: s.extension.trim(), password: s.password, displayName: s.displayName.trim() });
  };

  const placeCall = useCallback((target: string) => {
    if (!registered || call || target === '') return;
    void phone.call(target);
  }, [phone, registered, call]);

  const digit = useCallback((d: string) => {
    if (call?.status === 'active') {
      if (phone.sendDtmf(d)) setNumber((n) => n + d);
    } else if (!call) {
      setNumber((n) => n + d);
    }
  }, [phone, call]);

  // Keyboard: digits dial (or send DTMF in a call), Enter calls/answers, Esc hangs up/rejects.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const typing = isTextField(e.target);
      if (e.key === 'Escape' && call) {
        e.preventDefault();
        phone.hangup();
        return;
      }
      if (typing) return;
      if (DIAL_KEY.test(e.key)) {
        e.preventDefault();
        digit(e.key);
      } else if (e.key === 'Backspace' && !call) {
        setNumber((n) => n.slice(0, -1));
      } else if (e.key === 'Enter' && call?.status === 'incoming' && !(e.target instanceof HTMLButtonElement)) {
        e.preventDefault();
        void phone.answer();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [phone, call, digit]);

  // Clear the dialled DTMF digits when a call ends.
  const callId = call?.id ?? null;
  const prevCall = useRef<number | null>(null);
  useEffect(() => {
    if (prevCall.current !== null && callId === null) setNumber('');
    prevCall.current = callId;
  }, [callId]);

  const error = snap.error && snap.error !== dismissed ? snap.error : null;

  return (
    <div className="app">
      <header>
        <h1>Softphone PABX</h1>
        <StatusBar state={snap.registration} extension={settings.extension} />
      </header>
      <ErrorBanner error={error} onDismiss={() => setDismissed(snap.error)} />
      {snap.notice ? <p className="notice" role="status" data-testid="notice">{snap.notice}</p> : null}
      <main>
        <div className="column">
          {call ? (
            <CallPanel call={call} clock={phone.now}
              onAnswer={() => void phone.answer()}
              onReject={() => phone.reject()}
              onHangup={() => phone.hangup()}
              onMute={() => phone.toggleMute()}
              onHold={() => phone.toggleHold()}
              onTransfer={(t) => phone.transfer(t)} />
          ) : null}
          <DialPad number={number} onNumber={setNumber} onDigit={digit} onCall={() => placeCall(number)}
            canCall={registered && !call} inCall={call?.status === 'active'} />
          <AudioSettings devices={devices} microphoneId={settings.microphoneId} speakerId={settings.speakerId}
            onMicrophone={(id) => { updateSettings({ microphoneId: id }); void phone.setMicrophone(id || null); }}
            onSpeaker={(id) => updateSettings({ speakerId: id })}
            inputLevel={inputLevel} outputLevel={outputLevel} canChooseSpeaker={canChooseSpeaker} />
        </div>
        <div className="column">
          <SettingsForm initial={settings} connected={connected} onConnect={connect} onDisconnect={() => phone.disconnect()} />
          <History records={history} canCall={registered && !call} onRedial={(p) => placeCall(p)}
            onClear={() => setHistory(clearHistory(storage))} />
        </div>
      </main>
      <audio ref={audioRef} autoPlay data-testid="remote-audio" aria-label="Áudio da chamada" />
    </div>
  );
}
