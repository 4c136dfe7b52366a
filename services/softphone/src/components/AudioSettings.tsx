import { useId } from 'react';
import type { Devices } from '../hooks/useDevices';
import { LevelMeter } from './LevelMeter';

interface Props {
  devices: Devices;
  microphoneId: string;
  speakerId: string;
  onMicrophone(id: string): void;
  onSpeaker(id: string): void;
  inputLevel: number;
  outputLevel: number;
  canChooseSpeaker: boolean;
}

export function AudioSettings(p: Props) {
  const id = useId();
  return (
    <section className="card audio" aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`}>Áudio</h2>
      <label htmlFor={`${id}-mic`}>Microfone</label>
      <select id={`${id}-mic`} value={p.microphoneId} onChange={(e) => p.onMicrophone(e.target.value)}>
        <option value="">Padrão do sistema</option>
        {p.devices.microphones.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Microfone ${i + 1}`}</option>
        ))}
      </select>
      <label htmlFor={`${id}-spk`}>Alto-falante</label>
      <select id={`${id}-spk`} value={p.speakerId} disabled={!p.canChooseSpeaker}
        onChange={(e) => p.onSpeaker(e.target.value)}>
        <option value="">Padrão do sistema</option>
        {p.devices.speakers.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Alto-falante ${i + 1}`}</option>
        ))}
      </select>
      {!p.canChooseSpeaker ? <p className="muted">Este navegador não permite escolher o alto-falante.</p> : null}
      <LevelMeter label="Nível do microfone" level={p.inputLevel} testId="mic-level" />
      <LevelMeter label="Nível do áudio recebido" level={p.outputLevel} testId="speaker-level" />
    </section>
  );
}
