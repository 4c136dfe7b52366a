/**
 * JsSIP adapter: the only file that imports the SIP library. It turns JsSIP's UA/RTCSession
 * into our `SipUserAgent`/`SipSession` and its causes into our `FailureCause`.
 *
 * Notes on JsSIP 3.13 that shaped this file:
 * - `register: false`: the Phone controller sends REGISTER itself after every (re)connection.
 * - event handlers for outgoing calls go in `call()`'s `eventHandlers`, so none is missed.
 * - JsSIP waits for ICE gathering to finish before sending the SDP; a host with unreachable
 *   interfaces can make that take ~40 s, so we call `ready()` ICE_GATHERING_TIMEOUT_MS after
 *   the first candidate.
 * - DTMF goes in the media path (RTCDTMFSender, RFC 4733), which Asterisk's
 *   `dtmf_mode=rfc4733` expects.
 */
import * as JsSIP from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { UAConfiguration } from 'jssip/lib/UA';
import type { FailureCause, SessionHandlers, SipConfig, SipSession, SipUserAgent, UaFactory, UaHandlers } from './types';

export const ICE_GATHERING_TIMEOUT_MS = 1500;

/** No STUN/TURN by default: the PABX is on the LAN (or reached through coturn, configured here). */
const PC_CONFIG: RTCConfiguration = { iceServers: [] };

const NOOP_HANDLERS: SessionHandlers = {
  onProgress: () => undefined,
  onAccepted: () => undefined,
  onEnded: () => undefined,
  onRemoteStream: () => undefined,
  onIceStateChange: () => undefined,
};

export function mapCause(cause: string | undefined): FailureCause {
  const c = JsSIP.C.causes;
  switch (cause) {
    case c.BYE:
      return 'bye';
    case c.AUTHENTICATION_ERROR:
      return 'auth';
    case c.BUSY:
      return 'busy';
    case c.REJECTED:
      return 'rejected';
    case c.NOT_FOUND:
    case c.ADDRESS_INCOMPLETE:
      return 'not-found';
    case c.UNAVAILABLE:
    case c.REDIRECTED:
      return 'unavailable';
    case c.NO_ANSWER:
    case c.EXPIRES:
      return 'no-answer';
    case c.CANCELED:
      return 'canceled';
    case c.CONNECTION_ERROR:
      return 'connection';
    case c.REQUEST_TIMEOUT:
    case c.NO_ACK:
    case c.RTP_TIMEOUT:
      return 'timeout';
    case c.USER_DENIED_MEDIA_ACCESS:
      return 'mic-denied';
    case c.WEBRTC_ERROR:
    case c.INCOMPATIBLE_SDP:
    case c.MISSING_SDP:
    case c.BAD_MEDIA_DESCRIPTION:
      return 'media';
    default:
      return 'other';
  }
}

class JsSipSession implements SipSession {
  private handlers: SessionHandlers = NOOP_HANDLERS;
  private iceTimer: ReturnType<typeof setTimeout> | null = null;
  private watchedPc: RTCPeerConnection | null = null;
  readonly direction: 'incoming' | 'outgoing';
  readonly remoteUser: string;
  readonly remoteName: string;

  constructor(
    private readonly session: RTCSession,
    private readonly host: string,
  ) {
    this.direction = session.direction === 'incoming' ? 'incoming' : 'outgoing';
    this.remoteUser = session.remote_identity.uri.user ?? '';
    this.remoteName = session.remote_identity.display_name ?? '';
    // For outgoing calls the same listeners are also passed in call()'s eventHandlers;
    // attaching here covers incoming sessions, guarded against double delivery.
    if (this.direction === 'incoming') this.attach();
    else this.watchConnection();
  }

  setHandlers(handlers: SessionHandlers): void {
    this.handlers = handlers;
  }

  /** The listeners, as a JsSIP eventHandlers object. */
  eventHandlers(): Record<string, (...args: never[]) => void> {
    return {
      peerconnection: (e: { peerconnection: RTCPeerConnection }) => this.watchPc(e.peerconnection),
      progress: () => this.handlers.onProgress(),
      accepted: () => this.handlers.onAccepted(),
      confirmed: () => this.collectRemoteTracks(),
      ended: (e: { cause?: string }) => this.ended(mapCause(e.cause)),
      failed: (e: { cause?: string }) => this.ended(mapCause(e.cause)),
      icecandidate: (e: { ready: () => void }) => {
        if (this.iceTimer === null) this.iceTimer = setTimeout(e.ready, ICE_GATHERING_TIMEOUT_MS);
      },
    };
  }

  private attach(): void {
    for (const [name, fn] of Object.entries(this.eventHandlers())) {
      this.session.on(name as 'ended', fn as never);
    }
    this.watchConnection();
  }

  private watchConnection(): void {
    // JsSIP creates the RTCPeerConnection in the constructor for outgoing calls.
    const pc = (this.session as unknown as { connection: RTCPeerConnection | null }).connection;
    if (pc) this.watchPc(pc);
  }

  private watchPc(pc: RTCPeerConnection): void {
    if (this.watchedPc === pc) return;
    this.watchedPc = pc;
    pc.addEventListener('track', (ev) => {
      const stream = ev.streams[0] ?? new MediaStream([ev.track]);
      this.handlers.onRemoteStream(stream);
    });
    pc.addEventListener('iceconnectionstatechange', () => this.handlers.onIceStateChange(pc.iceConnectionState));
  }

  private collectRemoteTracks(): void {
    const pc = this.watchedPc;
    if (!pc) return;
    const tracks = pc.getReceivers().map((r) => r.track).filter((t) => t.kind === 'audio');
    if (tracks.length > 0) this.handlers.onRemoteStream(new MediaStream(tracks));
  }

  private ended(cause: FailureCause): void {
    if (this.iceTimer !== null) clearTimeout(this.iceTimer);
    this.iceTimer = null;
    const h = this.handlers;
    this.handlers = NOOP_HANDLERS;
    h.onEnded(cause);
  }

  answer(stream: MediaStream): void {
    this.session.answer({ mediaStream: stream, pcConfig: PC_CONFIG });
    this.watchConnection();
  }

  reject(reason: 'decline' | 'busy'): void {
    if (this.session.isEnded()) return;
    this.handlers = NOOP_HANDLERS;
    this.session.terminate(reason === 'busy'
      ? { status_code: 486, reason_phrase: 'Busy Here' }
      : { status_code: 603, reason_phrase: 'Decline' });
  }

  hangup(): void {
    this.handlers = NOOP_HANDLERS;
    if (!this.session.isEnded()) this.session.terminate();
  }

  setMuted(muted: boolean): void {
    if (muted) this.session.mute({ audio: true });
    else this.session.unmute({ audio: true });
  }

  hold(): void {
    this.session.hold();
  }

  unhold(): void {
    this.session.unhold();
  }

  sendDtmf(digit: string): void {
    this.session.sendDTMF(digit, {
      transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833,
      duration: 160,
      interToneGap: 80,
    });
  }

  transfer(target: string): void {
    this.session.refer(`sip:${target}@${this.host}`, {
      eventHandlers: {
        // Blind transfer: once the far end took the REFER, our leg is done.
        accepted: () => this.session.terminate(),
        requestSucceeded: () => undefined,
      },
    });
  }

  restartIce(): void {
    this.session.renegotiate({ rtcOfferConstraints: { iceRestart: true } });
  }

  async replaceAudioTrack(track: MediaStreamTrack): Promise<void> {
    const pc = this.watchedPc;
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio' || s.track === null);
    if (sender) await sender.replaceTrack(track);
  }
}

class JsSipUserAgent implements SipUserAgent {
  private readonly ua: JsSIP.UA;
  private readonly host: string;
  private stopped = false;

  constructor(config: SipConfig, private readonly handlers: UaHandlers) {
    this.host = new URL(config.server).hostname;
    const socket = new JsSIP.WebSocketInterface(config.server);
    const configuration: UAConfiguration = {
      sockets: [socket],
      uri: `sip:${config.extension}@${this.host}`,
      authorization_user: config.extension,
      password: config.password,
      display_name: config.displayName || config.extension,
      register: false,
      register_expires: 300,
      session_timers: false,
      user_agent: 'PABX-Softphone/0.1 (JsSIP)',
      // Only used while a call is up (see Phone): keep the socket coming back quickly.
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
    };
    this.ua = new JsSIP.UA(configuration);
    const h = this.handlers;
    const live = (fn: () => void) => () => {
      if (!this.stopped) fn();
    };
    this.ua.on('connecting', live(() => h.onConnecting()));
    this.ua.on('connected', live(() => h.onConnected()));
    this.ua.on('disconnected', live(() => h.onDisconnected()));
    this.ua.on('registered', live(() => h.onRegistered()));
    this.ua.on('unregistered', live(() => h.onUnregistered()));
    this.ua.on('registrationFailed', (e) => {
      if (this.stopped) return;
      const status = (e.response as { status_code?: number } | undefined)?.status_code;
      h.onRegistrationFailed(status === 401 || status === 403 || status === 407 ? 'auth' : mapCause(e.cause));
    });
    this.ua.on('newRTCSession', (e: { originator: string; session: RTCSession }) => {
      if (this.stopped || e.originator !== 'remote') return;
      h.onIncoming(new JsSipSession(e.session, this.host));
    });
  }

  start(): void {
    this.ua.start();
  }

  register(): void {
    this.ua.register();
  }

  stop(): void {
    this.stopped = true;
    this.ua.stop();
  }

  isConnected(): boolean {
    return this.ua.isConnected();
  }

  call(target: string, stream: MediaStream, handlers: SessionHandlers): SipSession {
    let wrapper: JsSipSession | null = null;
    const early: Record<string, (...args: never[]) => void> = {};
    // eventHandlers must exist before call() returns; they forward to the wrapper once built.
    const names = ['peerconnection', 'progress', 'accepted', 'confirmed', 'ended', 'failed', 'icecandidate'];
    for (const name of names) {
      early[name] = (...args: never[]) => {
        const fn = wrapper?.eventHandlers()[name];
        if (fn) fn(...args);
      };
    }
    const session = this.ua.call(`sip:${target}@${this.host}`, {
      mediaStream: stream,
      pcConfig: PC_CONFIG,
      eventHandlers: early,
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
    });
    wrapper = new JsSipSession(session, this.host);
    wrapper.setHandlers(handlers);
    return wrapper;
  }
}

export const jssipUaFactory: UaFactory = (config, handlers) => new JsSipUserAgent(config, handlers);
