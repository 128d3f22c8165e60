//! View change, decided by the replicas' own journals.
//!
//! A replica that gives up on its view persists the new view, then sends the new primary a
//! `do_view_change` carrying its durable `log_view`, its op head, its commit, and every header its
//! journal holds above its checkpoint, each marked clean or dirty, with its faulty slots. The new
//! primary, once it has a view-change quorum of votes:
//!
//! 1. takes the head from the vote with the highest `log_view`, then the highest op, and walks
//!    the hash chain down from it through every vote's headers: the canonical log;
//! 2. for each uncommitted op of it, lowest first, counts *nacks*: votes that do not hold that
//!    exact header and whose slot is not faulty (a faulty slot may have held a prepare its replica
//!    acknowledged). Enough nacks prove the op was never committed: the log is truncated there.
//!    Otherwise a vote must hold its prepare clean, or the primary waits for more votes;
//! 3. a faulty slot that may hold an op above the head must be nacked the same way, or the head
//!    is not certain and the primary waits;
//! 4. installs the log in its journal (`remove_entries_from`, `set_header_as_dirty`), fetches
//!    every uncommitted prepare it lacks from a replica that voted it clean, and only then sends
//!    `start_view`. Backups adopt it the same way.

use super::{Check, Simulation, RETRY_TICKS};
use crate::checkers::history::CanonicalBreak;
use crate::network::{DoViewChange, Message};
use crate::replica::{PipelineEntry, Status, ViewPlan};
use std::collections::BTreeMap;

/// Why a new primary cannot decide its log yet.
enum Undecided {
    /// An uncommitted op (and its checksum, where the chain names it) is neither nacked by
    /// enough votes nor held clean by any.
    Op(u64, Option<u32>),
    /// A faulty slot may hide an op above the head.
    Head(u64),
}

impl Simulation {
    /// Replica `index` moves to `view` (higher than its own) and votes for it.
    pub(crate) fn start_view_change(&mut self, index: usize, view: u32) {
        let tick = self.tick;
        let replica = &mut self.replicas[index];
        assert!(replica.status.is_up());
        assert!(view > replica.view || replica.status == super::Status::AwaitingView);
        replica.enter_view_to_learn(view, Status::ViewChange, tick);
        self.superblock_update(index, |s| s.view = s.view.max(view));
        self.trace
            .record(tick, index as u8, &[3, u64::from(view)], || {
                format!("start view change to view {view}")
            });
        self.broadcast(index, &Message::StartViewChange { view });
    }

    /// A replica in view change: votes once its view is durable (and again on a timeout); a new
    /// primary decides its log from the votes, fetches what it lacks, and starts the view.
    pub(crate) fn view_change_tick(&mut self, index: usize) -> Check {
        let tick = self.tick;
        let replica = &self.replicas[index];
        let view = replica.view;
        let primary = self.primary_index(view);
        if replica.superblock.view < view {
            return Ok(());
        }
        if primary != index {
            if tick >= replica.retry_tick {
                self.replicas[index].retry_tick = tick + RETRY_TICKS;
                let vote = self.vote(index)?;
                self.send(index, primary, Message::DoViewChange(Box::new(vote)));
            }
            return Ok(());
        }
        if self.replicas[index].plan.is_none() {
            // Its own vote again only once what it is built from changed, and a decision
            // again only once the votes changed (both are functions of those alone).
            let owed_count = self.acknowledged.owed_count(index);
            let replica = &self.replicas[index];
            if !replica
                .vote_own_at
                .as_ref()
                .is_some_and(|inputs| replica.vote_inputs_match(inputs, owed_count))
            {
                let vote = self.vote(index)?;
                let replica = &mut self.replicas[index];
                replica.votes_insert(index as u8, vote);
                let inputs = replica.vote_inputs(owed_count);
                // Pair assertion: what is stored is what the next turn compares against.
                assert!(replica.vote_inputs_match(&inputs, owed_count));
                replica.vote_own_at = Some(inputs);
            }
            if self.replicas[index].votes.len() < self.quorum_view_change() {
                return Ok(());
            }
            let votes_changes = self.replicas[index].votes_changes;
            let decision = match self.replicas[index].undecided_at {
                Some((at, undecided)) if at == votes_changes => Err(undecided),
                _ => self.decide(index).map_err(|undecided| match undecided {
                    Undecided::Op(op, checksum) => (0, op, checksum),
                    Undecided::Head(op) => (1, op, None),
                }),
            };
            match decision {
                Ok(plan) => self.install(index, plan)?,
                Err(undecided) => {
                    self.replicas[index].undecided_at = Some((votes_changes, undecided));
                    let (kind, op, checksum) = undecided;
                    self.view_change_waiting.insert((op, checksum));
                    let votes = self.replicas[index].votes.len() as u64;
                    let wait = (kind, op, votes);
                    if self.replicas[index].waiting != Some(wait) {
                        self.replicas[index].waiting = Some(wait);
                        let held: Vec<String> = self.replicas[index]
                            .votes
                            .iter()
                            .map(|(r, v)| {
                                let slot = (op % v.faulty.len() as u64) as usize;
                                format!(
                                    "r{r} log_view {} head {} {}",
                                    v.log_view,
                                    v.op_head,
                                    match v.header(op) {
                                        _ if v.faulty[slot] => "faulty".to_string(),
                                        Some((h, clean)) => format!(
                                            "{:08x} {}",
                                            h.checksum,
                                            if clean { "clean" } else { "dirty" }
                                        ),
                                        None => "none".to_string(),
                                    }
                                )
                            })
                            .collect();
                        self.trace.record(tick, index as u8, &[17, kind, op, votes], || {
                            let held = held.join(", ");
                            if kind == 0 {
                                format!("view {view}: waiting: op {op} is neither nacked by enough votes nor held clean by any ({held})")
                            } else {
                                format!("view {view}: waiting: a faulty slot may hide op {op} above the head ({held})")
                            }
                        });
                    }
                    return Ok(());
                }
            }
        }
        // Fetch the canonical suffix's prepares; start the view once every one is held clean.
        self.work(index)?;
        let replica = &self.replicas[index];
        let plan = replica.plan.as_ref().expect("installed");
        let ready = (plan.commit_max + 1..=plan.op_head).all(|op| {
            replica
                .journal
                .header_with_op(op)
                .is_some_and(|h| replica.journal.has_prepare(h) && !replica.journal.has_dirty(h))
        });
        if ready {
            self.start_view(index);
        }
        Ok(())
    }

    /// This replica's `do_view_change`: its journal's log, as it holds it now. Checks that it
    /// never nacks an op it acknowledged (the *nack* checker).
    pub(crate) fn vote(&self, index: usize) -> Result<DoViewChange, super::Failure> {
        let replica = &self.replicas[index];
        let journal = &replica.journal;
        let config = journal.config();
        // The durable view headers are the log view's own record of its suffix: a replica that
        // adopted a `start_view` and crashed before writing those prepares still votes with them
        // (dirty), or the new primary would take its shorter journal for its log view's log.
        let view_headers = &replica.superblock.view_headers;
        let op_head = view_headers
            .iter()
            .map(|h| h.op)
            .max()
            .unwrap_or(0)
            .max(replica.op_head());
        let op_low = replica
            .op_checkpoint
            .max(op_head.saturating_sub(config.slot_count - 1))
            .min(op_head);
        // The journal's headers of the range, newest first (as a DVC carries them): at most one
        // an op, and the range is at most a ring.
        assert!(op_head - op_low < config.slot_count);
        let mut held = vec![journal::Header::default(); (op_head - op_low + 1) as usize];
        let held_count = journal.copy_latest_headers_between(op_low, op_head, &mut held);
        let mut held_ascending = held[..held_count].iter().rev().peekable();
        let mut headers = Vec::new();
        for op in op_low..=op_head {
            // The checkpoint's header is known from the checkpoint, whatever the slot holds now.
            let held_header = held_ascending.next_if(|h| h.op == op);
            assert!(held_ascending.peek().is_none_or(|h| h.op > op));
            let header = if op == replica.op_checkpoint {
                Some(&replica.checkpoint_header)
            } else {
                view_headers.iter().find(|h| h.op == op).or(held_header)
            };
            if let Some(header) = header {
                let clean = journal.has_header(header) && !journal.has_dirty(header);
                headers.push((*header, clean));
            }
        }
        let faulty: Vec<bool> = (0..config.slot_count).map(|s| journal.faulty(s)).collect();
        let vote = DoViewChange {
            view: replica.view,
            log_view: replica.superblock.log_view,
            op_head,
            commit_max: replica.commit_max,
            checkpoint_header: replica.superblock.checkpoint_header,
            headers,
            faulty,
        };
        self.acknowledged
            .on_vote(index, &vote, replica.op_checkpoint)
            .map_err(|message| self.failure("nack", message))?;
        Ok(vote)
    }

    pub(crate) fn on_do_view_change(&mut self, index: usize, from: usize, vote: DoViewChange) {
        let replica = &mut self.replicas[index];
        if vote.view > replica.view {
            self.start_view_change(index, vote.view);
        }
        let primary = self.primary_index(vote.view);
        let replica = &mut self.replicas[index];
        if primary == index
            && replica.view == vote.view
            && (replica.plan.is_some() || replica.status == Status::Normal)
        {
            // A vote too late for the plan still says what its sender committed: ops of the
            // canonical log up to there need no quorum of `prepare_ok`s, which the voters that
            // executed them (and checkpointed past them) no longer send (seed 8614: a plan from
            // votes committed to 119, every later voter at checkpoint 128, quorum out of reach).
            let commit = vote.commit_max.min(replica.op_head());
            if commit > replica.commit_max {
                replica.commit_max = commit;
                self.coverage.add_event("late_vote_commit", 1);
            }
            return;
        }
        if replica.status != Status::ViewChange
            || replica.view != vote.view
            || replica.plan.is_some()
            || primary != index
        {
            return;
        }
        replica.votes_insert(from as u8, vote);
    }

    /// The canonical log from the votes, or why not yet.
    fn decide(&self, index: usize) -> Result<ViewPlan, Undecided> {
        let votes = &self.replicas[index].votes;
        let slot_count = self.config.journal.slot_count;
        let quorum_nack = self.quorum_nack();
        // A vote whose journal holds no header at all (every slot faulty or reserved) names no
        // head; its faulty slots still count below, where the head's certainty is checked.
        let best = votes
            .values()
            .filter(|v| v.header(v.op_head).is_some())
            .max_by_key(|v| (v.log_view, v.op_head))
            .ok_or(Undecided::Head(0))?;
        let commit_max = votes.values().map(|v| v.commit_max).max().expect("votes");
        let mut op_head = best.op_head;
        let mut head_header = best
            .header(op_head)
            .map(|(h, _)| h)
            .expect("a vote carries its head");
        // Walk the hash chain down from the head through every vote's headers. A gap above the
        // commit is an uncommitted op no vote holds: truncate below it if enough votes nack it
        // (and walk again from the op below), or wait for more votes.
        let mut headers = BTreeMap::new();
        // Once an op is proven uncommitted, so is every op above it: a replica acknowledges an op
        // only with every op before it held, so a commit quorum of a later op held this one too.
        let mut truncated = false;
        for _ in 0..slot_count {
            headers.clear();
            let mut expected = head_header.checksum;
            let op_floor = op_head.saturating_sub(slot_count - 1);
            let mut op = op_head;
            let mut gap = None;
            loop {
                let found = votes
                    .values()
                    .find_map(|v| v.header(op).filter(|(h, _)| h.checksum == expected));
                let Some((header, _)) = found else {
                    gap = Some((op, expected));
                    break;
                };
                headers.insert(op, header);
                if op == op_floor || op == 0 {
                    break;
                }
                expected = header.parent;
                op -= 1;
            }
            let Some((gap_op, checksum)) = gap.filter(|(op, _)| *op > commit_max) else {
                break;
            };
            let nacks = votes.values().filter(|v| v.nacks(gap_op, checksum)).count();
            if nacks < quorum_nack {
                return Err(Undecided::Op(gap_op, Some(checksum)));
            }
            op_head = gap_op - 1;
            truncated = true;
            // The new head's header, from a vote of the highest log view: only that view's log
            // is canonical (a lower log view may hold another version, even a newer one that a
            // later view dropped again). An op no such vote holds is truncated too, if enough
            // votes nack every version of it.
            head_header = loop {
                let canonical = votes
                    .values()
                    .filter(|v| v.log_view == best.log_view)
                    .find_map(|v| v.header(op_head).map(|(h, _)| h));
                if let Some(header) = canonical {
                    break header;
                }
                let slot = (op_head % slot_count) as usize;
                let nacks = votes
                    .values()
                    .filter(|v| {
                        !v.faulty[slot] && v.header(op_head).is_none_or(|(_, clean)| !clean)
                    })
                    .count();
                if op_head <= commit_max || nacks < quorum_nack {
                    return Err(Undecided::Op(op_head, None));
                }
                op_head -= 1;
            };
        }
        // Uncommitted ops, lowest first: truncate at the first one enough votes nack.
        let mut copies = BTreeMap::new();
        let op_head_chain = op_head;
        for op in commit_max + 1..=op_head_chain {
            let checksum = match headers.get(&op) {
                Some(header) => header.checksum,
                // A gap in the chain: the checksum it must have is the next op's parent.
                None => headers.get(&(op + 1)).map_or(0, |next| next.parent),
            };
            let nacks = votes.values().filter(|v| v.nacks(op, checksum)).count();
            if nacks >= quorum_nack {
                op_head = op - 1;
                truncated = true;
                break;
            }
            let holders: Vec<u8> = votes
                .iter()
                .filter(|(_, v)| v.present(op, checksum))
                .map(|(&r, _)| r)
                .collect();
            if holders.is_empty() || !headers.contains_key(&op) {
                return Err(Undecided::Op(op, Some(checksum)));
            }
            copies.insert(op, holders);
        }
        headers.retain(|&op, _| op <= op_head);
        copies.retain(|&op, _| op <= op_head);
        if let std::collections::btree_map::Entry::Vacant(entry) = headers.entry(op_head) {
            // Truncated down to the commit, whose header the chain did not reach: it must come
            // from the highest log view too (the newest version by view need not be the one
            // committed: a view may drop an op, make another version, and a later view restore
            // and commit the first).
            let canonical = votes
                .values()
                .filter(|v| v.log_view == best.log_view)
                .find_map(|v| v.header(op_head).map(|(h, _)| h));
            match canonical {
                Some(header) => {
                    entry.insert(header);
                }
                None => return Err(Undecided::Op(op_head, None)),
            }
        }
        // A faulty slot may hold an op above the head that its replica acknowledged: the head is
        // certain only once enough votes prove that op uncommitted. Only votes of the highest log
        // view matter: an op committed in that view was acknowledged by replicas of that log
        // view, and one committed earlier is in that view's log. A vote of an older log view
        // never acknowledged anything in it, so it nacks.
        let log_view_max = best.log_view;
        for vote in votes
            .values()
            .filter(|v| !truncated && v.log_view == log_view_max)
        {
            let high = self
                .config
                .journal
                .op_prepare_max(vote.checkpoint_header.op);
            for (slot, _) in vote.faulty.iter().enumerate().filter(|(_, f)| **f) {
                let slot = slot as u64;
                // The op above the head that this slot would hold, if within the voter's window.
                let above = op_head + 1;
                let op = above + (slot + slot_count - above % slot_count) % slot_count;
                if op > high {
                    continue;
                }
                let nacks = votes
                    .values()
                    .filter(|v| {
                        v.log_view < log_view_max
                            || (!v.faulty[slot as usize]
                                && v.header(op).is_none_or(|(_, clean)| !clean))
                    })
                    .count();
                if nacks < quorum_nack {
                    return Err(Undecided::Head(op));
                }
            }
        }
        Ok(ViewPlan {
            op_head,
            commit_max: commit_max.min(op_head),
            headers,
            copies,
        })
    }

    /// The new primary installs the canonical log in its journal and fetches what it lacks.
    fn install(&mut self, index: usize, mut plan: ViewPlan) -> Check {
        let tick = self.tick;
        let view = self.replicas[index].view;
        // Committed history never changes: every committed op is in the canonical log.
        match self.committed.on_canonical(plan.op_head, &plan.headers) {
            Ok(()) => {}
            Err(CanonicalBreak::TruncatesBelow {
                op_head,
                committed_max,
            }) => {
                return Err(self.failure(
                    "history",
                    format!(
                        "view {view} truncates its log at op {}, below committed op {committed_max}",
                        op_head + 1
                    ),
                ));
            }
            Err(CanonicalBreak::Contradicts {
                op,
                chosen,
                committed,
            }) => {
                let votes: Vec<String> = self.replicas[index]
                    .votes
                    .iter()
                    .map(|(r, v)| {
                        format!(
                            "r{r}: log_view {} head {} checkpoint {} holds {:?}",
                            v.log_view,
                            v.op_head,
                            v.checkpoint_header.op,
                            v.header(op).map(|(h, clean)| (
                                format!("{:08x}", h.checksum),
                                h.view,
                                clean
                            ))
                        )
                    })
                    .collect();
                return Err(self.failure(
                    "history",
                    format!(
                        "view {view} chose {chosen:08x} for op {op}, committed as {:08x} in view {}; votes: {}",
                        committed.checksum,
                        committed.view,
                        votes.join("; ")
                    ),
                ));
            }
        }
        // A primary that lags the votes' checkpoint syncs to it first (the ops below are
        // committed and checkpointed by some voter).
        let checkpoint_max = self.replicas[index]
            .votes
            .values()
            .map(|v| v.checkpoint_header)
            .max_by_key(|h| h.op)
            .expect("votes");
        let replica = &self.replicas[index];
        if checkpoint_max.op > replica.op_checkpoint
            && plan.op_head > self.config.journal.op_prepare_max(replica.op_checkpoint)
        {
            self.state_sync(index, checkpoint_max);
        }
        let prepare_max = self.replicas[index].op_prepare_max();
        if plan.op_head > prepare_max {
            // Past every voter's durable prepare max: no replica acknowledged it.
            plan.op_head = prepare_max;
            plan.commit_max = plan.commit_max.min(prepare_max);
        }
        self.truncate_from(index, plan.op_head + 1);
        let checkpoint = self.replicas[index].op_checkpoint;
        let adopt: Vec<journal::Header> = plan
            .headers
            .values()
            .filter(|h| h.op > checkpoint && h.op <= plan.op_head)
            .copied()
            .collect();
        for header in &adopt {
            self.adopt_header(index, header);
        }
        let replica = &mut self.replicas[index];
        replica.commit_max = replica.commit_max.max(plan.commit_max);
        replica.pipeline = plan
            .headers
            .values()
            .filter(|h| h.op > plan.commit_max && h.op <= plan.op_head)
            .map(|header| PipelineEntry {
                header: *header,
                message: None,
                oks: 0,
            })
            .collect();
        let (op_head, commit_max) = (plan.op_head, plan.commit_max);
        self.note_truncation(index, view, op_head);
        self.trace.record(
            tick,
            index as u8,
            &[14, u64::from(view), op_head, commit_max],
            || format!("view {view}: canonical head {op_head}, commit {commit_max}"),
        );
        self.replicas[index].plan = Some(plan);
        Ok(())
    }

    /// For the replay only (an unhashed note): the ops above the canonical head that some vote
    /// held, and which votes nacked the first of them.
    fn note_truncation(&mut self, index: usize, view: u32, op_head: u64) {
        if !self.trace.keeps_lines() {
            return;
        }
        let votes = &self.replicas[index].votes;
        let Some(op_max) = votes.values().map(|v| v.op_head).max() else {
            return;
        };
        if op_max <= op_head {
            return;
        }
        let op = op_head + 1;
        let checksum = votes
            .values()
            .find_map(|v| v.header(op))
            .map_or(0, |(h, _)| h.checksum);
        let nacked: Vec<String> = votes
            .iter()
            .filter(|(_, v)| v.nacks(op, checksum))
            .map(|(r, _)| format!("r{r}"))
            .collect();
        let text = format!(
            "view {view}: ops {op}..={op_max} truncated; op {op} nacked by {} of {} votes ({}), quorum {}",
            nacked.len(),
            votes.len(),
            nacked.join(" "),
            self.quorum_nack()
        );
        let tick = self.tick;
        self.trace.note(
            tick,
            index as u8,
            crate::trace::tag::NOTE_NACK,
            &[op],
            || text,
        );
    }

    /// The new primary's log is complete: it enters the view and tells the backups.
    fn start_view(&mut self, index: usize) {
        let tick = self.tick;
        let plan = self.replicas[index].plan.take().expect("installed");
        let view = self.replicas[index].view;
        let view_headers = self.view_headers(index, plan.op_head);
        self.view_change_waiting.clear();
        let replica = &mut self.replicas[index];
        replica.status = Status::Normal;
        replica.log_view = view;
        replica.status_tick = tick;
        replica.retry_tick = tick;
        replica.votes_clear();
        let commit_max = replica.commit_max;
        self.superblock_update(index, |s| {
            s.view = view;
            s.log_view = view;
            s.view_headers = view_headers;
            s.commit_max = s.commit_max.max(commit_max);
        });
        self.trace.record(
            tick,
            index as u8,
            &[15, u64::from(view), plan.op_head],
            || format!("start view {view} with head {}", plan.op_head),
        );
        let message = self.start_view_message(index);
        self.broadcast(index, &message);
        self.replicas[index].storm_armed = true;
    }

    /// The primary's current log as a `start_view`.
    fn start_view_message(&self, index: usize) -> Message {
        let replica = &self.replicas[index];
        let op_head = replica.op_head().max(replica.op_checkpoint);
        let headers = std::iter::once(replica.checkpoint_header)
            .chain(self.chain_suffix(index, replica.op_checkpoint + 1, op_head))
            .collect();
        Message::StartView {
            view: replica.view,
            op_head,
            commit: replica.commit_max,
            checkpoint: replica.superblock.checkpoint_header,
            headers,
        }
    }

    pub(crate) fn on_request_start_view(&mut self, index: usize, from: usize, view: u32) {
        let replica = &self.replicas[index];
        if replica.status == Status::Normal
            && replica.view >= view
            && self.primary_index(replica.view) == index
        {
            let message = self.start_view_message(index);
            self.send(index, from, message);
        }
    }

    /// A backup adopts the new view's log.
    pub(crate) fn on_start_view(
        &mut self,
        index: usize,
        view: u32,
        op_head: u64,
        commit: u64,
        checkpoint: journal::Header,
        headers: &[journal::Header],
    ) -> Check {
        let tick = self.tick;
        let replica = &self.replicas[index];
        let adopt =
            view > replica.view || (view == replica.view && replica.status != Status::Normal);
        if !adopt || self.primary_index(view) == index {
            return Ok(());
        }
        let replica = &mut self.replicas[index];
        replica.enter_view(view, Status::Normal, tick);
        replica.log_view = view;
        replica.primary_heard_tick = tick;
        replica.commit_max = replica.commit_max.max(commit);
        if checkpoint.op > replica.primary_checkpoint.op {
            replica.primary_checkpoint = checkpoint;
        }
        // The primary's log starts at its checkpoint as it holds it now (`headers[0]`), which a
        // state sync of its own may have moved past the one its superblock has made durable
        // (`checkpoint`): its head lies within a ring of the newer one. (Seed 9204: a backup at
        // checkpoint 64 of a 4-slot ring took head 69 beside a durable checkpoint 62 and voted
        // a range that left out op 65, which it had acknowledged.)
        let checkpoint_log = headers
            .first()
            .copied()
            .filter(|h| h.op > checkpoint.op)
            .unwrap_or(checkpoint);
        if op_head > replica.op_prepare_max() && checkpoint_log.op > replica.op_checkpoint {
            // Too far behind to hold the view's head: sync to the primary's checkpoint.
            self.state_sync(index, checkpoint_log);
        }
        self.truncate_from(index, op_head + 1);
        for header in headers {
            self.adopt_header(index, header);
        }
        let view_headers: Vec<journal::Header> = {
            let length = self.config.journal.pipeline_max + 1;
            headers
                .iter()
                .filter(|h| h.op + length > op_head)
                .copied()
                .collect()
        };
        let checkpoint = self.replicas[index].op_checkpoint;
        let commit_max = self.replicas[index].commit_max;
        self.superblock_update(index, |s| {
            s.view = view;
            s.log_view = view;
            s.view_headers = view_headers;
            s.op_checkpoint = s.op_checkpoint.max(checkpoint);
            s.commit_max = s.commit_max.max(commit_max);
        });
        self.trace
            .record(tick, index as u8, &[16, u64::from(view), op_head], || {
                format!("adopt start_view {view} with head {op_head}")
            });
        Ok(())
    }
}
