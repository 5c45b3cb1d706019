/**
 * Malicious-operation rules: destructive shell and SQL, reverse shells, download-and-execute, and
 * credential theft / data exfiltration in code. Patterns are bounded (`{0,n}`) and have no nested
 * quantifiers, so a megabyte of hostile text costs one linear pass per pattern.
 */
import { evidenceSpan, type Finding, type GovernanceRule, type PatternTriggers, type RuleSubject } from 'limit-graph';

/**
 * Each pattern below declares what every one of its matches contains (PatternTriggers, where the
 * rules for declaring them are) and runs only on views that may hold it: most texts trigger none.
 * A subject built by hand (no view, or a view of another text) is scanned as it is.
 */
const mayMatch = (subject: RuleSubject, triggers: PatternTriggers): boolean =>
  !subject.view || subject.view.text !== subject.text || subject.view.mayMatch(triggers);

interface Pattern {
  id: string;
  severity: number;
  reason: string;
  /** What every match contains. */
  triggers: PatternTriggers;
  re: RegExp;
}

const PATTERNS: Pattern[] = [
  { id: 'malicious.destructive-shell', severity: 9, reason: 'Destructive shell command (recursive delete of a root, home or wildcard path, disk wipe, fork bomb)',
    triggers: { words: ['rm', 'dev', 'chmod', 'shutil', 'format'], substrings: [':('] },
    re: /\brm\s+(?:-[a-z]{0,6}\s+){0,3}-[a-z]{0,6}[rR][a-z]{0,6}\s+(?:--no-preserve-root\s+)?(?:\/(?:(?:usr|etc|home|var|bin|boot|lib)\/?)?(?:\s|$|\*|['\";&|])|~|\*|\$home|\.\s*$)|\bmkfs(?:\.\w{1,8})?\s+\/dev\/|\bdd\s+if=\/dev\/(?:zero|random|urandom)\s+of=\/dev\/[sh]d|:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;|\bchmod\s+-R\s+0?777\s+\/(?:\s|$)|>\s*\/dev\/sd[a-z]\b|\bshutil\.rmtree\(\s*['"](?:\/|~|C:\\)['"]|\bformat\s+c:/im },
  { id: 'malicious.destructive-sql', severity: 8, reason: 'Destructive SQL (DROP/TRUNCATE, or DELETE/UPDATE without WHERE)',
    triggers: { words: ['drop', 'truncate', 'delete', 'shutdown'] },
    re: /\b(?:drop\s+(?:table|database|schema)\s+(?:if\s+exists\s+)?[\w."`]{1,64}|truncate\s+table\s+[\w."`]{1,64}|delete\s+from\s+[\w."`]{1,64}\s*(?:;|$)|;\s*shutdown\s+with\s+nowait)/im },
  { id: 'malicious.reverse-shell', severity: 10, reason: 'Reverse shell',
    triggers: { words: ['tcp', 'bin', 'socket', 'mkfifo', 'sockets'], prefixes: ['powershelltcp'] },
    re: /\/dev\/tcp\/[\w.-]{1,64}\/\d{1,5}|\bnc(?:at)?\s+(?:-[a-z]{1,4}\s+){0,4}[\w.-]{1,64}\s+\d{1,5}\s+-e\s+\/bin\/(?:ba)?sh|\bnc(?:at)?\s+-e\s+\/bin\/(?:ba)?sh|socket\.socket\([^)]{0,80}\)[^\n]{0,200}(?:\n[^\n]{0,200}){0,6}dup2|\bmkfifo\s+\/tmp\/\w{1,20};\s*(?:cat|nc)|Invoke-PowerShellTcp|New-Object\s+System\.Net\.Sockets\.TCPClient/i },
  { id: 'malicious.download-execute', severity: 9, reason: 'Download-and-execute (curl | sh, fetch then exec)',
    triggers: { words: ['curl', 'wget', 'iex', 'exec'] },
    re: /\b(?:curl|wget)\b[^\n|;]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:curl|wget)\b[^\n]{0,200}(?:&&|;)\s*chmod\s+\+x[^\n]{0,100}(?:&&|;)\s*\.\/|\biex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)|urlretrieve\([^)]{0,200}\)[^\n]{0,80}(?:\n[^\n]{0,200}){0,3}\bexec\(|\bexec\(\s*(?:requests\.get|urllib\.request\.urlopen)\(/i },
  { id: 'malicious.credential-theft', severity: 8, reason: 'Reads credentials or secrets (SSH keys, shadow file, cloud credentials, browser stores, keychain)',
    triggers: { words: ['ssh', 'shadow', 'aws', 'login', 'cookies', 'security', 'mimikatz', 'lsass', 'sekurlsa'] },
    re: /(?:~|\$HOME|\/root|\/home\/\w{1,32})\/\.ssh\/id_(?:rsa|dsa|ecdsa|ed25519)\b|\/etc\/shadow\b|\.aws\/credentials\b|\bLogin Data\b|\bCookies\.sqlite\b|\bsecurity\s+find-generic-password\b|\bmimikatz\b|\blsass(?:\.exe)?\s+(?:dump|minidump)|\bsekurlsa::/i },
  { id: 'malicious.keylogger', severity: 8, reason: 'Keystroke capture (keylogger)',
    triggers: { words: ['pynput', 'keyboard', 'getasynckeystate', 'wh'] },
    re: /\bpynput\.keyboard\b|\bkeyboard\.Listener\b|\bGetAsyncKeyState\b|\bSetWindowsHookEx\w?\s*\(\s*WH_KEYBOARD/ },
  { id: 'malicious.crypto-miner', severity: 8, reason: 'Cryptocurrency miner download or launch',
    triggers: { words: ['stratum', 'miner'], prefixes: ['xmrig', 'minerd', 'cpuminer', 'cryptonight'] },
    re: /\b(?:xmrig|minerd|cpuminer|cryptonight|stratum\+tcp:\/\/)|\bminer_url\b|\b\.\/miner\b/i },
];

/** Code that collects local data (files, contacts, environment, system info) and ships it out. */
const COLLECT = /\bopen\(\s*["'][^"']{1,80}["']|csv\.reader\(|os\.environ|psutil\.|getpass|pyperclip|ImageGrab|platform\.uname|socket\.gethostname|glob\.glob\(/;
const SHIP = /\bsmtplib\.|\bsendmail\(|requests\.post\(|httpx\.post\(|urllib\.request\.urlopen\([^)]{0,80}data=|http\.client\.HTTPS?Connection\(|\.sendall\(|ftplib\.|paramiko\./;

const SHIP_TRIGGERS: PatternTriggers = { words: ['smtplib', 'sendmail', 'post', 'urlopen', 'client', 'sendall'], suffixes: ['ftplib', 'paramiko'] };

const patternRules: GovernanceRule[] = PATTERNS.map((p) => {
  return {
    id: p.id,
    flag: 'Malicious',
    surfaces: ['input', 'output', 'tool'],
    description: p.reason,
    evaluate(subject: RuleSubject): Finding[] {
      if (!mayMatch(subject, p.triggers)) return [];
      const m = p.re.exec(subject.text);
      if (!m) return [];
      return [{ ruleId: p.id, kind: 'Malicious', severity: p.severity, reason: p.reason, evidence: [evidenceSpan(subject, m.index, m.index + m[0].length)] }];
    },
  };
});

const exfiltration: GovernanceRule = {
  id: 'malicious.code-exfiltration',
  flag: 'Malicious',
  surfaces: ['input', 'output', 'tool'],
  description: 'Code that reads local data and sends it over the network or by e-mail.',
  evaluate(subject) {
    if (!mayMatch(subject, SHIP_TRIGGERS)) return [];
    const ship = SHIP.exec(subject.text);
    if (!ship) return [];
    const collect = COLLECT.exec(subject.text);
    if (!collect) return [];
    return [{
      ruleId: 'malicious.code-exfiltration', kind: 'Malicious', severity: 7,
      reason: 'Code collects local data and sends it out (e-mail / HTTP POST / socket)',
      evidence: [evidenceSpan(subject, collect.index, collect.index + collect[0].length), evidenceSpan(subject, ship.index, ship.index + ship[0].length)],
    }];
  },
};

export const RULES: readonly GovernanceRule[] = [...patternRules, exfiltration];
