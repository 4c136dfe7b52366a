/** Incoming-call ring (WebAudio, Brazilian cadence 1 s on / 4 s off) and desktop notification. */
export interface Ringer {
  start(from: string): void;
  stop(): void;
}

export function browserRinger(): Ringer {
  let ctx: AudioContext | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let note: Notification | null = null;

  const beep = () => {
    if (!ctx) return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 425; // Brazilian ring-back tone
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 1);
  };

  return {
    start(from) {
      this.stop();
      try {
        ctx = new AudioContext();
        beep();
        timer = setInterval(beep, 5000);
      } catch {
        ctx = null;
      }
      if (typeof Notification !== 'undefined' && Notification.permission === 'granted' && document.hidden) {
        note = new Notification('Chamada recebida', { body: `De ${from}`, tag: 'softphone-incoming' });
        note.onclick = () => window.focus();
      }
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      void ctx?.close();
      ctx = null;
      note?.close();
      note = null;
    },
  };
}

/** Asks for notification permission (call from a click). */
export function askNotificationPermission(): void {
  if (typeof Notification !== 'undefined' && Notification.permission === 'default') {
    void Notification.requestPermission();
  }
}
