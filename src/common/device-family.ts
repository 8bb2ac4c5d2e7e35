/**
 * The browser family of a User-Agent, as the new-device check and the new-device mail name it:
 * "Firefox on Windows", "Safari on iOS", "script" for HTTP libraries. A small rule set of our own
 * (no dependency, and only families, never versions, so an update of the browser is not a new
 * device). Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
 */
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\/|\bChromium\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bLinux\b/, 'Linux'],
];

const SCRIPTS = /^(curl|wget|python-requests|python-urllib|httpie|okhttp|axios|node-fetch|undici|go-http-client|java|postmanruntime|insomnia)\b/i;

export function deviceFamily(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').slice(0, 400);
  if (ua === '') return 'unknown';
  if (SCRIPTS.test(ua)) return 'script';
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1] ?? 'other';
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  return system ? `${browser} on ${system}` : browser;
}
