//! The store contract: one suite that every backend passes, so the engine can run on any of
//! them. Each case is a function generic over a [`harness::Harness`] (a fresh database, and
//! more handles to it as other processes would open); `contract_suite!` instantiates every case
//! for one backend, as `BACKEND::AREA::CASE`.
//!
//! Areas: claims and leases, lease expiry and recovery (crash counts, quarantine), outcomes
//! (exactly-once commits, fencing, retries and backoff, failure policies), events (gapless per
//! execution, also under concurrent writers), pages and filters, state transitions and queue
//! stats, patterns (children, step rows, orchestrated ends), webhooks (the outbox written with an
//! execution's end, claims and attempts of deliveries), and the catalog, code registry and tokens.
//!
//! It runs for [`quantd_store::SqliteStore`], [`quantd_store::PgStore`] (each case in a fresh
//! schema of the test server, `QUANTD_TEST_DATABASE_URL` or `postgres://postgres@127.0.0.1:5432/test`;
//! the cases fail, never skip, when it cannot be reached), and for [`quantd_store::AnyStore`]
//! over each (the store chosen at run time, which must hand every call to its backend
//! unchanged). A new backend adds a `Harness` and one `contract_suite!` line.

#[path = "contract/catalog.rs"]
mod catalog;
#[path = "contract/claims.rs"]
mod claims;
#[path = "contract/events.rs"]
mod events;
#[path = "contract/harness.rs"]
mod harness;
#[path = "contract/outcomes.rs"]
mod outcomes;
#[path = "contract/pages.rs"]
mod pages;
#[path = "contract/patterns.rs"]
mod patterns;
#[path = "contract/recovery.rs"]
mod recovery;
#[path = "contract/states.rs"]
mod states;
#[path = "contract/webhooks.rs"]
mod webhooks;

/// One `#[tokio::test]` per case of each area, run against a fresh `$harness`.
macro_rules! contract_cases {
    ($harness:ty; $($area:ident: $($case:ident),+ $(,)?;)+) => {
        $(
            mod $area {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let h = <$harness as crate::harness::Harness>::new().await;
                        crate::$area::$case(&h).await;
                    }
                )+
            }
        )+
    };
}

/// Every case of the contract for one backend, in module `$backend`.
macro_rules! contract_suite {
    ($backend:ident, $harness:ty) => {
        mod $backend {
            contract_cases! {
                $harness;
                claims:
                    a_claim_leases_one_pending_shard,
                    claims_serve_the_oldest_execution_first_or_only_the_one_asked,
                    only_pending_and_running_executions_give_shards,
                    concurrent_claimers_never_get_the_same_shard,
                    heartbeats_extend_only_their_owners_leases,
                    priority_goes_first_and_waiting_work_ages,
                    workspaces_take_turns,
                    bounded_claims_leave_long_work_alone;
                recovery:
                    expired_leases_return_to_pending_with_a_crash,
                    dead_owners_shards_are_recovered_and_live_ones_kept,
                    a_shard_that_keeps_crashing_quarantines_its_execution,
                    quarantine_after_zero_never_quarantines,
                    recovery_cancels_dead_claims_of_ended_executions,
                    releases_return_claims_without_counting,
                    a_release_until_later_waits_for_its_time;
                outcomes:
                    a_second_complete_of_the_same_claim_is_lease_lost,
                    a_stale_claim_cannot_commit_after_a_reclaim,
                    a_reclaim_by_the_same_owner_fences_the_earlier_claim,
                    the_last_commit_completes_the_execution_with_its_completion,
                    concurrent_commits_of_one_process_are_each_fenced_and_ordered,
                    results_over_the_limit_are_not_stored,
                    retries_wait_for_their_backoff,
                    a_failing_shard_fails_its_execution_once,
                    the_continue_policy_completes_with_failed_shards_listed,
                    a_stopped_shard_stores_nothing;
                events:
                    returned_events_are_the_stored_events_in_order,
                    concurrent_writers_keep_events_gapless,
                    events_after_a_number_beyond_any_give_none,
                    events_before_read_the_tail_newest_first;
                pages:
                    execution_pages_cover_everything_once_in_order,
                    bad_cursors_are_refused_on_every_list,
                    code_pages_cover_everything_once;
                states:
                    pause_resume_and_cancel_follow_the_state_machine,
                    finished_executions_refuse_every_change,
                    queue_stats_count_what_will_run;
                patterns:
                    children_belong_to_their_pattern_once_per_step,
                    children_created_in_one_batch,
                    steps_and_the_end_of_a_pattern,
                    a_step_end_recorded_twice_is_recorded_once;
                catalog:
                    a_newer_import_makes_the_previous_one_stale_and_back,
                    illegal_pack_changes_are_refused,
                    orphaned_imports_fail_and_live_ones_stay,
                    packs_are_found_by_name_id_or_prefix_from_a_new_handle,
                    code_names_belong_to_a_workspace,
                    tokens_and_idempotency_keys,
                    providers_are_kept_and_named_by_packs,
                    the_audit_trail_reads_newest_first_by_filter;
                webhooks:
                    terminal_changes_write_deliveries_in_their_transaction,
                    deliveries_are_claimed_once_per_attempt_and_logged,
                    webhooks_belong_to_a_workspace_within_a_limit,
                    workspace_policies_are_replaced_whole;
            }
        }
    };
}

contract_suite!(sqlite, crate::harness::Sqlite);
contract_suite!(any_sqlite, crate::harness::AnySqlite);
contract_suite!(postgres, crate::harness::Postgres);
contract_suite!(any_postgres, crate::harness::AnyPostgres);
