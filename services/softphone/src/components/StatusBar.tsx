import type { RegistrationState } from '../sip/phone';

const TEXT: Record<RegistrationState, string> = {
  off: 'Desconectado',
  connecting: 'Conectando…',
  registering: 'Registrando…',
  registered: 'Registrado',
  reconnecting: 'Reconectando…',
  failed: 'Falha no registro',
};

export function StatusBar({ state, extension }: { state: RegistrationState; extension: string }) {
  return (
    <p className={`status status-${state}`} role="status" aria-live="polite" data-testid="registration">
      <span className="dot" aria-hidden="true" />
      {TEXT[state]}
      {state === 'registered' && extension ? ` como ramal ${extension}` : ''}
    </p>
  );
}
