/**
 * HighRisk rules: operations with side effects outside the session — removals, file writes,
 * network calls, process spawning, privilege changes. Not malicious by themselves (severity 3–5),
 * they make a trace worth a look and feed `blockUnsafeMerge` decisions at stricter presets.
 */
import { evidenceSpan, type GovernanceRule, type PatternTriggers, type RuleSubject } from 'limit-graph';

/**
 * Each pattern below declares what every one of its matches contains (PatternTriggers, where the
 * rules for declaring them are) and runs only on views that may hold it: most texts trigger none.
 * A subject built by hand (no view, or a view of another text) is scanned as it is.
 */
const mayMatch = (subject: RuleSubject, triggers: PatternTriggers): boolean =>
  !subject.view || subject.view.text !== subject.text || subject.view.mayMatch(triggers);

/** `triggers`: what every match contains. */
const OPS: { id: string; severity: number; reason: string; triggers: PatternTriggers; re: RegExp }[] = [
  { id: 'highrisk.removal', severity: 5, reason: 'Removes files or directories',
    triggers: { words: ['rm', 'shutil', 'os', 'fs', 'remove', 'del', 'drop'] },
    re: /\brm\s+-[a-z]{0,4}[rf]|\bshutil\.rmtree\(|\bos\.(?:remove|unlink|rmdir)\(|\bfs\.(?:rm|rmSync|unlink|unlinkSync|rmdir)\(|\bRemove-Item\b|\bdel\s+\/[sq]\b|\bDROP\s+(?:TABLE|DATABASE)\b/i },
  { id: 'highrisk.file-write', severity: 3, reason: 'Writes files',
    triggers: { words: ['open', 'fs', 'write', 'etc'] },
    re: /\bopen\([^)]{1,200},\s*['"][wa]b?\+?['"]|\bfs\.(?:writeFile|appendFile|createWriteStream)\w{0,4}\(|\.write_text\(|\.write_bytes\(|>\s*\/etc\/|\btee\s+\/etc\//i },
  { id: 'highrisk.network', severity: 4, reason: 'Makes network calls',
    triggers: { words: ['requests', 'urllib', 'http', 'httpx', 'fetch', 'axios', 'curl', 'wget', 'socket', 'smtplib'] },
    re: /\brequests\.(?:get|post|put|delete)\(|\burllib\.request\.|\bhttp\.client\.|\bhttpx\.|\bfetch\(\s*['"`]https?:|\baxios\.|\bcurl\s|\bwget\s|\bsocket\.socket\(|\bsmtplib\./ },
  { id: 'highrisk.process', severity: 4, reason: 'Spawns processes or shells',
    triggers: { words: ['os', 'subprocess', 'child', 'execsync', 'eval', 'exec'] },
    re: /\bos\.system\(|\bsubprocess\.(?:run|call|Popen|check_output)\(|\bchild_process\b|\bexecSync\(|\beval\(|\bexec\(/ },
  { id: 'highrisk.privilege', severity: 5, reason: 'Changes privileges or system configuration',
    triggers: { words: ['sudo', 'chmod', 'chown', 'crontab', 'etc', 'setuid', 'systemctl'] },
    re: /\bsudo\s|\bchmod\s+[0-7]{3,4}\b|\bchown\s|\bcrontab\s|\/etc\/sudoers|\bsetuid\(|\bsystemctl\s+(?:enable|disable|stop)\b/ },
];

/** A question about the operation ("what does chmod 777 actually do"): a sentence around the match that opens with a question word and ends in "?" or ends the text. */
const QUESTION_OPENING = /(?:^|[.!?\n])\s*(?:what|why|how|when|is|are|does|do|should|can|could|would)\b[^.!?\n]*$/i;
const QUESTION_CLOSING = /^[^.!?\n]*(?:\?|$)/;
const askedAbout = (text: string, start: number, end: number): boolean =>
  QUESTION_OPENING.test(text.slice(Math.max(0, start - 120), start)) && QUESTION_CLOSING.test(text.slice(end, end + 240));

export const RULES: readonly GovernanceRule[] = OPS.map((op): GovernanceRule => ({
  id: op.id,
  flag: 'HighRisk',
  surfaces: ['input', 'tool'],
  description: op.reason,
  evaluate(subject: RuleSubject) {
    // A prompt to a model executes nothing; code, external texts and tool calls may.
    if (subject.surface === 'input' && subject.trace.task.kind === 'prompt') return [];
    if (!mayMatch(subject, op.triggers)) return [];
    const m = op.re.exec(subject.text);
    if (!m || askedAbout(subject.text, m.index, m.index + m[0].length)) return [];
    return [{ ruleId: op.id, kind: 'HighRisk' as const, severity: op.severity, reason: op.reason, evidence: [evidenceSpan(subject, m.index, m.index + m[0].length)] }];
  },
}));
