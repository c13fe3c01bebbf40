interface ErrorBannerProps {
  message: string | null | undefined;
  onDismiss?: () => void;
}

/** A form- or page-level error that belongs to no single field. */
export function ErrorBanner({ message, onDismiss }: ErrorBannerProps) {
  if (!message) return null;
  return (
    <div className="banner banner--error" role="alert">
      <span>{message}</span>
      {onDismiss ? (
        <button type="button" className="button button--ghost button--small" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}
