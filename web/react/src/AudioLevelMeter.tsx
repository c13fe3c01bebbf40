import { useAudioLevel, type AudioLevelOptions } from "./useAudioLevel.js";

/** Props of {@link AudioLevelMeter}. */
export interface AudioLevelMeterProps extends AudioLevelOptions {
  /** The track to meter; the meter rests at 0 without one. */
  track: MediaStreamTrack | undefined;
  /** Accessible name, e.g. "Agent audio level". */
  label: string;
  /** Short visible caption beside the bar. */
  caption?: string;
  className?: string;
}

/**
 * A level meter for one audio track: `role="meter"` with `aria-valuenow` from 0 to 100.
 * Only this component re-renders as the level moves.
 */
export function AudioLevelMeter({ track, label, caption, className, ...options }: AudioLevelMeterProps) {
  const level = useAudioLevel(track, options);
  const classes = className ? `vocable-call__meter ${className}` : "vocable-call__meter";
  return (
    <div className={classes} data-active={track ? "true" : "false"}>
      {caption ? (
        <span className="vocable-call__meter-caption" aria-hidden="true">
          {caption}
        </span>
      ) : null}
      <div
        className="vocable-call__meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(level * 100)}
      >
        <div className="vocable-call__meter-fill" style={{ transform: `scaleX(${level})` }} />
      </div>
    </div>
  );
}
