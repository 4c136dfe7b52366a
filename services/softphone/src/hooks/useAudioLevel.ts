import { useEffect, useState } from 'react';

/** RMS level (0..1) of a MediaStream's audio, sampled ~10 times a second with an AnalyserNode. */
export function useAudioLevel(stream: MediaStream | null): number {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!stream || typeof AudioContext === 'undefined' || stream.getAudioTracks().length === 0) {
      setLevel(0);
      return undefined;
    }
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const t = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      setLevel(Math.min(1, Math.sqrt(sum / buf.length) * 3));
    }, 100);
    void ctx.resume();
    return () => {
      clearInterval(t);
      source.disconnect();
      void ctx.close();
    };
  }, [stream]);
  return level;
}
