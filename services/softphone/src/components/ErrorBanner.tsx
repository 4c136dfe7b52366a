import type { PhoneError } from '../sip/errors';

export function ErrorBanner({ error, onDismiss }: { error: PhoneError | null; onDismiss(): void }) {
  if (!error) return null;
  return (
    <div className={`banner error-${error.kind}`} role="alert" data-testid="error" data-kind={error.kind}>
      <p>{error.message}</p>
      {error.link ? (
        <p>
          <a href={error.link} target="_blank" rel="noreferrer">Abrir {error.link} para aceitar o certificado</a>
        </p>
      ) : null}
      <button type="button" className="link" onClick={onDismiss} aria-label="Fechar mensagem de erro">Fechar</button>
    </div>
  );
}
