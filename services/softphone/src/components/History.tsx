import { useId } from 'react';
import { formatDuration } from '../hooks/useCallTimer';
import type { CallRecord, CallResult } from '../sip/phone';

const RESULT: Record<CallResult, string> = {
  answered: 'atendida',
  missed: 'perdida',
  rejected: 'recusada',
  failed: 'falhou',
  canceled: 'cancelada',
  transferred: 'transferida',
};

interface Props {
  records: CallRecord[];
  onRedial(peer: string): void;
  onClear(): void;
  canCall: boolean;
}

export function History({ records, onRedial, onClear, canCall }: Props) {
  const id = useId();
  return (
    <section className="card history" aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`}>Histórico</h2>
      {records.length === 0 ? <p className="muted">Nenhuma chamada ainda.</p> : (
        <>
          <ul data-testid="history">
            {records.map((r, i) => {
              const when = new Date(r.startedAt).toLocaleString('pt-BR');
              const dir = r.direction === 'incoming' ? 'Recebida de' : 'Para';
              return (
                <li key={`${r.startedAt}-${i}`}>
                  <span className={`dir dir-${r.direction}`} aria-hidden="true">{r.direction === 'incoming' ? '↙' : '↗'}</span>
                  <span className="who">{dir} {r.peer}</span>
                  <span className="muted">{RESULT[r.result]}{r.durationS > 0 ? `, ${formatDuration(r.durationS)}` : ''} · {when}</span>
                  <button type="button" className="link" disabled={!canCall} onClick={() => onRedial(r.peer)}
                    aria-label={`Ligar para ${r.peer}`}>Ligar</button>
                </li>
              );
            })}
          </ul>
          <button type="button" className="link" onClick={onClear}>Limpar histórico</button>
        </>
      )}
    </section>
  );
}
