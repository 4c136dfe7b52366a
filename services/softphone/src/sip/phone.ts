/**
 * Phone: the softphone's state logic, independent of React and of the SIP library.
 *
 * Registration (one WebSocket + REGISTER per `connect`):
 *
 *   off ──connect──▶ connecting ──ws open──▶ registering ──200──▶ registered
 *                        │  ▲                     │ 401/403           │ ws closed
 *                        │  └──backoff timer──┐   ▼                   ▼
 *                        └──ws failed──▶ reconnecting ◀──────────────┘
 *                                             failed (wrong password: no retry)
 *
 * Reconnection is ours, not the library's: with no call up, a closed WebSocket disposes the
 * user agent and a new one is built after 1, 2, 4, 8, 15, 30, 30 ... s (or at once when the
 * browser says it is online again or the page comes back into view). With a call up, the
 * user agent (and so the SIP dialog) is kept while its socket reconnects; once it is back we
 * REGISTER again and restart ICE on the call so media follows the new network path.
 *
 * Call (one at a time; a second incoming call is answered 486 Busy):
 *
 *   (none) ──call()──▶ dialing ──18x──▶ ringing ──200──▶ active ⇄ held
 *   (none) ──INVITE──▶ incoming ──answer()──▶ active
 *   any ──hangup()/reject()/BYE/failure──▶ (none), a CallRecord is emitted
 */
import {
  callEndText,
  classifyConnectFailure,
  microphoneError,
  phoneError,
  validateSettings,
  type PhoneError,
  type ReachedServers,
} from './errors';
import type {
  Clock,
  FailureCause,
  MediaSource,
  SessionHandlers,
  SipConfig,
  SipSession,
  SipUserAgent,
  UaFactory,
} from './types';

export type RegistrationState = 'off' | 'connecting' | 'registering' | 'registered' | 'reconnecting' | 'failed';
export type CallStatus = 'dialing' | 'ringing' | 'incoming' | 'active';

export interface CallInfo {
  id: number;
  direction: 'incoming' | 'outgoing';
  peer: string;
  peerName: string;
  status: CallStatus;
  muted: boolean;
  held: boolean;
  startedAt: number;
  answeredAt: number | null;
  localStream: MediaStream | null;
  remoteStream: MediaStream | null;
  iceRestarts: number;
}

export interface PhoneSnapshot {
  registration: RegistrationState;
  error: PhoneError | null;
  call: CallInfo | null;
  /** Portuguese text about how the last call ended, when it was not a normal end. */
  notice: string | null;
}

export type CallResult = 'answered' | 'missed' | 'rejected' | 'failed' | 'canceled' | 'transferred';

export interface CallRecord {
  direction: 'incoming' | 'outgoing';
  peer: string;
  startedAt: number;
  durationS: number;
  result: CallResult;
}

export interface PhoneOptions {
  uaFactory: UaFactory;
  media: MediaSource;
  reached: ReachedServers;
  clock?: Clock;
  reconnectDelaysMs?: readonly number[];
  /** How long ICE may stay "disconnected" before we restart it. */
  iceRestartDelayMs?: number;
}

const DEFAULT_DELAYS = [1000, 2000, 4000, 8000, 15000, 30000] as const;
const DTMF_DIGIT = /^[0-9*#A-D]$/;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Listener = () => void;

export class Phone {
  private readonly opts: Required<PhoneOptions>;
  private snapshot: PhoneSnapshot = { registration: 'off', error: null, call: null, notice: null };
  private readonly listeners = new Set<Listener>();
  private readonly recordListeners = new Set<(r: CallRecord) => void>();

  private config: SipConfig | null = null;
  private ua: SipUserAgent | null = null;
  /** Bumped for each user agent; events from older ones are ignored. */
  private generation = 0;
  private uaEverConnected = false;
  private attempt = 0;
  private reconnectTimer: unknown = null;

  private session: SipSession | null = null;
  private nextCallId = 1;
  private transferring = false;
  private iceTimer: unknown = null;
  private icePendingRestart = false;
  private microphoneId: string | null = null;

  constructor(options: PhoneOptions) {
    this.opts = {
      clock: realClock,
      reconnectDelaysMs: DEFAULT_DELAYS,
      iceRestartDelayMs: 2000,
      ...options,
    };
  }

  // ---- observation (useSyncExternalStore-friendly) ----

  getSnapshot = (): PhoneSnapshot => this.snapshot;

  /** The clock call times are measured with (for the call timer). */
  now = (): number => this.opts.clock.now();

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  onCallRecord(listener: (r: CallRecord) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  private set(patch: Partial<PhoneSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }

  private patchCall(patch: Partial<CallInfo>): void {
    if (this.snapshot.call) this.set({ call: { ...this.snapshot.call, ...patch } });
  }

  // ---- registration ----

  /** Validates the settings and starts connecting; returns the validation error, if any. */
  connect(config: SipConfig): PhoneError | null {
    const invalid = validateSettings(config.server, config.extension, config.password);
    if (invalid) {
      this.set({ error: invalid });
      return invalid;
    }
    this.disconnect();
    this.config = { ...config };
    this.attempt = 0;
    this.set({ error: null, notice: null });
    this.startUa();
    return null;
  }

  /** Hangs up, unregisters, closes the socket and stops retrying. */
  disconnect(): void {
    if (this.session) this.hangup();
    this.cancelReconnect();
    this.disposeUa();
    this.config = null;
    this.set({ registration: 'off' });
  }

  /** Call when the network may have changed (window "online", page visible again). */
  networkChanged(): void {
    if (!this.config) return;
    if (this.snapshot.registration === 'reconnecting' && !this.session) {
      this.cancelReconnect();
      this.startUa();
      return;
    }
    if (this.session && this.snapshot.call?.status === 'active') this.restartIce();
  }

  private startUa(): void {
    const config = this.config;
    if (!config) return;
    const gen = ++this.generation;
    const live = (): boolean => gen === this.generation;
    this.uaEverConnected = false;
    this.set({ registration: 'connecting' });
    this.ua = this.opts.uaFactory(config, {
      onConnecting: () => undefined,
      onConnected: () => {
        if (live()) this.handleConnected();
      },
      onDisconnected: () => {
        if (live()) this.handleDisconnected();
      },
      onRegistered: () => {
        if (live()) this.handleRegistered();
      },
      onUnregistered: () => {
        if (live() && this.snapshot.registration === 'registered') this.set({ registration: 'registering' });
      },
      onRegistrationFailed: (cause) => {
        if (live()) this.handleRegistrationFailed(cause);
      },
      onIncoming: (session) => {
        if (live()) this.handleIncoming(session);
        else session.reject('busy');
      },
    });
    this.ua.start();
  }

  private disposeUa(): void {
    this.generation++;
    const ua = this.ua;
    this.ua = null;
    ua?.stop();
  }

  private handleConnected(): void {
    const config = this.config;
    if (!config) return;
    this.uaEverConnected = true;
    this.opts.reached.add(config.server);
    this.set({ registration: 'registering' });
    this.ua?.register();
    if (this.icePendingRestart) this.restartIce();
  }

  private handleRegistered(): void {
    this.attempt = 0;
    const err = this.snapshot.error;
    const clear = err && err.kind !== 'mic-denied' && err.kind !== 'no-microphone' && err.kind !== 'call-failed';
    this.set({ registration: 'registered', error: clear ? null : err });
  }

  private handleRegistrationFailed(cause: FailureCause): void {
    if (cause === 'auth' || cause === 'rejected') {
      this.cancelReconnect();
      this.disposeUa();
      this.set({ registration: 'failed', error: phoneError('wrong-password') });
      return;
    }
    // Timeouts and transport errors: same path as a dropped socket.
    this.handleDisconnected();
  }

  private handleDisconnected(): void {
    const config = this.config;
    if (!config) return;
    const err = this.uaEverConnected || this.snapshot.registration === 'registered'
      ? phoneError('connection-lost', config.server)
      : classifyConnectFailure(config.server, this.opts.reached);
    // A lost connection keeps being reported as such while we retry.
    const keepLost = this.snapshot.error?.kind === 'connection-lost' && err.kind !== 'connection-lost';
    this.set({ registration: 'reconnecting', error: keepLost ? this.snapshot.error : err });
    if (this.session) {
      // Keep the user agent: its socket comes back by itself and the dialog survives.
      this.icePendingRestart = true;
      return;
    }
    this.disposeUa();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.cancelReconnect();
    const delays = this.opts.reconnectDelaysMs;
    const delay = delays[Math.min(this.attempt, delays.length - 1)] ?? 30000;
    this.attempt++;
    this.reconnectTimer = this.opts.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.startUa();
    }, delay);
  }

  private cancelReconnect(): void {
    if (this.reconnectTimer !== null) this.opts.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  /** Milliseconds until the next reconnect attempt would fire (for tests and the UI). */
  get reconnectAttempt(): number {
    return this.attempt;
  }

  // ---- calls ----

  async call(target: string): Promise<void> {
    const number = target.trim();
    if (!this.ua || this.snapshot.registration !== 'registered' || this.snapshot.call || number === '') return;
    const id = this.nextCallId++;
    this.transferring = false;
    this.set({
      notice: null,
      call: this.newCall(id, 'outgoing', number, ''),
    });
    let stream: MediaStream;
    try {
      stream = await this.opts.media.getMicrophone(this.microphoneId);
    } catch (e) {
      if (this.currentCallId() === id) this.finish('mic-denied', 'failed');
      this.set({ error: microphoneError(e) });
      return;
    }
    if (this.currentCallId() !== id || !this.ua) {
      stopStream(stream);
      return;
    }
    this.patchCall({ localStream: stream });
    try {
      this.session = this.ua.call(number, stream, this.sessionHandlers(id));
    } catch {
      // The library refused the target (e.g. an invalid SIP URI).
      this.finish('not-found', null);
    }
  }

  private currentCallId(): number | null {
    return this.snapshot.call?.id ?? null;
  }

  private newCall(id: number, direction: 'incoming' | 'outgoing', peer: string, peerName: string): CallInfo {
    return {
      id,
      direction,
      peer,
      peerName,
      status: direction === 'outgoing' ? 'dialing' : 'incoming',
      muted: false,
      held: false,
      startedAt: this.opts.clock.now(),
      answeredAt: null,
      localStream: null,
      remoteStream: null,
      iceRestarts: 0,
    };
  }

  private handleIncoming(session: SipSession): void {
    if (this.snapshot.call) {
      session.reject('busy');
      this.emitRecord({
        direction: 'incoming',
        peer: session.remoteUser,
        startedAt: this.opts.clock.now(),
        durationS: 0,
        result: 'missed',
      });
      return;
    }
    const id = this.nextCallId++;
    this.transferring = false;
    this.session = session;
    session.setHandlers(this.sessionHandlers(id));
    this.set({ notice: null, call: this.newCall(id, 'incoming', session.remoteUser, session.remoteName) });
  }

  private sessionHandlers(id: number): SessionHandlers {
    const current = (): boolean => this.snapshot.call?.id === id;
    return {
      onProgress: () => {
        if (current() && this.snapshot.call?.status === 'dialing') this.patchCall({ status: 'ringing' });
      },
      onAccepted: () => {
        if (current()) this.patchCall({ status: 'active', answeredAt: this.opts.clock.now() });
      },
      onEnded: (cause) => {
        if (current()) this.finish(cause, null);
      },
      onRemoteStream: (stream) => {
        if (current()) this.patchCall({ remoteStream: stream });
      },
      onIceStateChange: (state) => {
        if (current()) this.handleIceState(state);
      },
    };
  }

  async answer(): Promise<void> {
    const call = this.snapshot.call;
    const session = this.session;
    if (!call || !session || call.status !== 'incoming') return;
    let stream: MediaStream;
    try {
      stream = await this.opts.media.getMicrophone(this.microphoneId);
    } catch (e) {
      if (this.snapshot.call?.id === call.id) {
        session.reject('decline');
        this.finish('mic-denied', 'failed');
      }
      this.set({ error: microphoneError(e) });
      return;
    }
    if (this.snapshot.call?.id !== call.id) {
      stopStream(stream);
      return;
    }
    this.patchCall({ localStream: stream });
    session.answer(stream);
  }

  reject(): void {
    const call = this.snapshot.call;
    if (!call || !this.session || call.status !== 'incoming') return;
    this.session.reject('decline');
    this.finish('rejected', 'rejected');
  }

  hangup(): void {
    const call = this.snapshot.call;
    if (!call) return;
    if (call.status === 'incoming') {
      this.reject();
      return;
    }
    this.session?.hangup();
    this.finish(call.answeredAt === null ? 'canceled' : 'bye', call.answeredAt === null ? 'canceled' : 'answered');
  }

  toggleMute(): void {
    const call = this.snapshot.call;
    if (!call || !this.session || call.status !== 'active') return;
    this.session.setMuted(!call.muted);
    this.patchCall({ muted: !call.muted });
  }

  toggleHold(): void {
    const call = this.snapshot.call;
    if (!call || !this.session || call.status !== 'active') return;
    if (call.held) this.session.unhold();
    else this.session.hold();
    this.patchCall({ held: !call.held });
  }

  /** Sends one DTMF digit during an active call; returns whether it was sent. */
  sendDtmf(digit: string): boolean {
    const call = this.snapshot.call;
    if (!call || !this.session || call.status !== 'active' || !DTMF_DIGIT.test(digit)) return false;
    this.session.sendDtmf(digit);
    return true;
  }

  transfer(target: string): void {
    const call = this.snapshot.call;
    const number = target.trim();
    if (!call || !this.session || call.status !== 'active' || number === '') return;
    this.transferring = true;
    this.session.transfer(number);
  }

  /** Chooses the microphone; during a call the track is swapped in place. */
  async setMicrophone(deviceId: string | null): Promise<void> {
    this.microphoneId = deviceId;
    const call = this.snapshot.call;
    if (!call?.localStream || !this.session) return;
    let stream: MediaStream;
    try {
      stream = await this.opts.media.getMicrophone(deviceId);
    } catch (e) {
      this.set({ error: microphoneError(e) });
      return;
    }
    const track = stream.getAudioTracks()[0];
    if (!track || this.snapshot.call?.id !== call.id || !this.session) {
      stopStream(stream);
      return;
    }
    await this.session.replaceAudioTrack(track);
    track.enabled = !call.muted;
    stopStream(call.localStream);
    this.patchCall({ localStream: stream });
  }

  private handleIceState(state: RTCIceConnectionState): void {
    if (state === 'connected' || state === 'completed') {
      this.clearIceTimer();
      return;
    }
    if ((state === 'disconnected' || state === 'failed') && this.iceTimer === null) {
      const delay = state === 'failed' ? 0 : this.opts.iceRestartDelayMs;
      this.iceTimer = this.opts.clock.setTimeout(() => {
        this.iceTimer = null;
        this.restartIce();
      }, delay);
    }
  }

  private restartIce(): void {
    const call = this.snapshot.call;
    if (!this.session || !call || call.status !== 'active') return;
    if (!this.ua?.isConnected()) {
      this.icePendingRestart = true;
      return;
    }
    this.icePendingRestart = false;
    this.session.restartIce();
    this.patchCall({ iceRestarts: call.iceRestarts + 1 });
  }

  private clearIceTimer(): void {
    if (this.iceTimer !== null) this.opts.clock.clearTimeout(this.iceTimer);
    this.iceTimer = null;
  }

  private finish(cause: FailureCause, localResult: CallResult | null): void {
    const call = this.snapshot.call;
    if (!call) return;
    this.clearIceTimer();
    this.icePendingRestart = false;
    this.session = null;
    if (call.localStream) stopStream(call.localStream);
    const result: CallResult = localResult ?? resultOf(call, cause, this.transferring);
    const now = this.opts.clock.now();
    this.set({ call: null, notice: localResult ? null : callEndText(cause) });
    this.emitRecord({
      direction: call.direction,
      peer: call.peer,
      startedAt: call.startedAt,
      durationS: call.answeredAt === null ? 0 : Math.round((now - call.answeredAt) / 1000),
      result,
    });
    // A socket that dropped during the call is now handled the usual way.
    if (this.snapshot.registration === 'reconnecting' && this.ua && !this.ua.isConnected()) {
      this.disposeUa();
      this.scheduleReconnect();
    }
  }

  private emitRecord(record: CallRecord): void {
    for (const l of this.recordListeners) l(record);
  }
}

function resultOf(call: CallInfo, cause: FailureCause, transferring: boolean): CallResult {
  if (transferring) return 'transferred';
  if (call.answeredAt !== null) return 'answered';
  if (call.direction === 'incoming') return 'missed';
  return cause === 'canceled' ? 'canceled' : 'failed';
}

function stopStream(stream: MediaStream): void {
  for (const t of stream.getTracks()) t.stop();
}
