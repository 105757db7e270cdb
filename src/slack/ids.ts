/** Every Slack id the bot uses; slack-manifest.yml declares the same command. */
export const SLASH_COMMAND = '/rollback';

export const ACTION = {
  approve: 'rollback_approve',
  cancel: 'rollback_cancel',
  approveMigration: 'rollback_approve_migration',
  skipMigration: 'rollback_skip_migration',
  checklist: 'rollback_checklist',
  resumeSync: 'rollback_resume_sync',
  signOffReleaseManager: 'rollback_sign_off_release_manager',
  signOffEngineeringManager: 'rollback_sign_off_engineering_manager',
  runCleanup: 'rollback_run_cleanup',
  pause: 'rollback_pause_auto',
  undoRollback: 'rollback_undo_rollback',
  resume: 'rollback_resume_auto',
} as const;

export const BLOCK = {
  decision: 'rollback_decision',
  checklist: 'rollback_checklist_block',
  gitops: 'rollback_gitops',
  signOff: 'rollback_sign_off',
  signOffDone: 'rollback_sign_off_done',
  cleanup: 'rollback_cleanup',
  pause: 'rollback_pause',
  undo: 'rollback_undo',
  stop: 'rollback_stop',
  paused: 'rollback_paused',
} as const;
