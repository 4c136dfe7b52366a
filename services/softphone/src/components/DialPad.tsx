import { useId } from 'react';

export const KEYS: readonly { digit: string; letters: string }[] = [
  { digit: '1', letters: '' }, { digit: '2', letters: 'ABC' }, { digit: '3', letters: 'DEF' },
  { digit: '4', letters: 'GHI' }, { digit: '5', letters: 'JKL' }, { digit: '6', letters: 'MNO' },
  { digit: '7', letters: 'PQRS' }, { digit: '8', letters: 'TUV' }, { digit: '9', letters: 'WXYZ' },
  { digit: '*', letters: '' }, { digit: '0', letters: '+' }, { digit: '#', letters: '' },
];

const SPOKEN: Record<string, string> = { '*': 'asterisco', '#': 'sustenido' };

interface Props {
  number: string;
  onNumber(n: string): void;
  onDigit(d: string): void;
  onCall(): void;
  canCall: boolean;
  inCall: boolean;
}

export function DialPad({ number, onNumber, onDigit, onCall, canCall, inCall }: Props) {
  const id = useId();
  return (
    <section className="card dialpad" aria-labelledby={`${id}-t`}>
      <h2 id={`${id}-t`}>{inCall ? 'Teclado (DTMF)' : 'Discar'}</h2>
      <form onSubmit={(e) => { e.preventDefault(); onCall(); }}>
        <label htmlFor={`${id}-n`} className="sr-only">Número a discar</label>
        <div className="number-row">
          <input id={`${id}-n`} className="number" value={number} inputMode="tel" autoComplete="off"
            placeholder="Número ou ramal" readOnly={inCall}
            onChange={(e) => onNumber(e.target.value.replace(/[^0-9*#+A-Da-d]/g, ''))} />
          <button type="button" className="link" aria-label="Apagar último dígito" disabled={number === '' || inCall}
            onClick={() => onNumber(number.slice(0, -1))}>⌫</button>
        </div>
        <div className="keys" role="group" aria-label="Teclado numérico">
          {KEYS.map(({ digit, letters }) => (
            <button key={digit} type="button" className="key" aria-label={`Tecla ${SPOKEN[digit] ?? digit}`}
              onClick={() => onDigit(digit)}>
              <span className="digit">{digit}</span>
              <span className="letters" aria-hidden="true">{letters}</span>
            </button>
          ))}
        </div>
        {!inCall ? (
          <button type="submit" className="primary call" disabled={!canCall || number === ''}>Ligar</button>
        ) : null}
      </form>
    </section>
  );
}
