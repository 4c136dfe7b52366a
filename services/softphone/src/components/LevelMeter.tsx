export function LevelMeter({ label, level, testId }: { label: string; level: number; testId: string }) {
  const pct = Math.round(level * 100);
  return (
    <div className="meter">
      <span className="meter-label">{label}</span>
      <meter min={0} max={100} value={pct} aria-label={label} data-testid={testId} data-level={pct} />
    </div>
  );
}
