/**
 * systemProvenanceAction: an action name that reads as one the runtime records itself is found
 * whatever its case, compatibility form, accents, invisible characters or separators, so a client's
 * entry (POST /traces/:id/provenance) cannot look like an approval or a creation.
 */
import { describe, expect, it } from 'vitest';
import { SYSTEM_PROVENANCE_ACTIONS, foldProvenanceAction, systemProvenanceAction } from '../../kernel/index.ts';

describe('systemProvenanceAction', () => {
  it('finds each system action as written', () => {
    for (const a of SYSTEM_PROVENANCE_ACTIONS) expect(systemProvenanceAction(a)).toBe(a);
  });

  it.each([
    ['Approved', 'approved'], ['APPROVED', 'approved'], ['approved ', 'approved'], ['\tmerge\n', 'merge'],
    ['created\u200b', 'created'], ['fla\u00adgged', 'flagged'], ['\ufeffreleased', 'released'], ['bloc\u2060ked', 'blocked'],
    ['ａｐｐｒｏｖｅｄ', 'approved'], ['\ufb02agged', 'flagged'], ['approvéd', 'approved'], ['QUARANTİNED', 'quarantined'], ['quarantıned', 'quarantined'],
    ['review requested', 'review-requested'], ['Review_Requested', 'review-requested'], ['review\u2010requested', 'review-requested'], ['review - requested', 'review-requested'],
  ])('%j reads as %s', (action, system) => {
    expect(systemProvenanceAction(action)).toBe(system);
  });

  it('leaves actions of a client\'s own alone', () => {
    for (const a of ['reviewed', 'note', 'approve', 'approved-by-legal', 'pre-merge', 'Created by hand', 'annotated']) expect(systemProvenanceAction(a), a).toBeUndefined();
    expect(foldProvenanceAction('Approved-By Legal')).toBe('approved-by-legal');
  });
});
