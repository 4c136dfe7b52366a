import { useId, useState } from 'react';
import { useCallTimer } from '../hooks/useCallTimer';
import type { CallInfo } from '../sip/phone';

interface Props {
  call: CallInfo;
  clock(): number;
  onAnswer(): void;
  onReject(): void;
  onHangup(): void;
  onMute(): void;
  onHold(): void;
  onTransfer(target: string): void;
}

const STATUS: Record<CallInfo['status'], string> = {
  dialing: 'Chamando…',
  ringing: 'Tocando no destino…',
  incoming: 'Chamada recebida',
  active: 'Em chamada',
};

export function CallPanel({ call, clock, onAnswer, onReject, onHangup, onMute, onHold, onTransfer }: Props) {
  const id = useId();
  const timer = useCallTimer(call.answeredAt, clock);
  const [transferOpen, setTransferOpen] = useState(false);
  const [target, setTarget] = useState('');
  const who = call.peerName ? `${call.peerName} (${call.peer})` : call.peer;
  const active = call.status === 'active';
  return (
    <section className={`card call call-${call.status}`} aria-labelledby={`${id}-t`} data-testid="call" data-status={call.status}>
      <h2 id={`${id}-t`}>{call.held ? 'Em espera' : STATUS[call.status]}</h2>
      <p className="peer" aria-label="Interlocutor">{who}</p>
      {active ? <p className="timer" aria-label="Duração da chamada" data-testid="timer">{timer}</p> : null}
      {call.status === 'incoming' ? (
        <div className="actions">
          <button type="button" className="primary" onClick={onAnswer} autoFocus>Atender</button>
          <button type="button" className="danger" onClick={onReject}>Recusar</button>
        </div>
      ) : (
        <div className="actions">
          {active ? (
            <>
              <button type="button" aria-pressed={call.muted} onClick={onMute}>
                {call.muted ? 'Reativar microfone' : 'Silenciar'}
              </button>
              <button type="button" aria-pressed={call.held} onClick={onHold}>
                {call.held ? 'Retomar' : 'Colocar em espera'}
              </button>
              <button type="button" aria-expanded={transferOpen} onClick={() => setTransferOpen((v) => !v)}>
                Transferir
              </button>
            </>
          ) : null}
          <button type="button" className="danger" onClick={onHangup}>Desligar</button>
        </div>
      )}
      {active && transferOpen ? (
        <form className="transfer" onSubmit={(e) => { e.preventDefault(); onTransfer(target); setTransferOpen(false); }}>
          <label htmlFor={`${id}-tr`}>Transferir para (ramal ou número)</label>
          <div className="row">
            <input id={`${id}-tr`} value={target} inputMode="tel" autoFocus
              onChange={(e) => setTarget(e.target.value.replace(/[^0-9*#+]/g, ''))} />
            <button type="submit" disabled={target === ''}>Transferir agora</button>
          </div>
        </form>
      ) : null}
    </section>
  );
}
