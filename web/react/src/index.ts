/**
 * `@vocable/react`: a call component and hooks for Vocable voice agents, on top of
 * `@vocable/client`. Styles are opt-in: `import "@vocable/react/styles.css"`.
 *
 * @packageDocumentation
 */
export { AudioLevelMeter, type AudioLevelMeterProps } from "./AudioLevelMeter.js";
export { defaultLabels, type VoiceCallLabels } from "./labels.js";
export { useAudioLevel, type AudioLevelOptions } from "./useAudioLevel.js";
export {
  useVoiceCall,
  type UseVoiceCallOptions,
  type VoiceCallCallbacks,
  type VoiceCallControls,
} from "./useVoiceCall.js";
export {
  VocableCall,
  VoiceCallPanel,
  type VoiceCallPanelOwnProps,
  type VoiceCallPanelProps,
} from "./VoiceCallPanel.js";
