//! A phase's clients (`Clients`): their tasks, started over the
//! ramp-up, their cursors (for the drain) and the signal that stops them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::run_client;
use crate::client_spec::ClientSpec;
use crate::h2_client::H2Groups;
use crate::recorder::PhaseRecorder;
use crate::session::ClientReport;

/// The phase's clients: their tasks, their cursors and the stop signal.
pub(crate) struct Clients {
    /// What the clients share, one per server node (one for one server):
    /// the same but for the node's address.
    pub(crate) specs: Arc<[ClientSpec]>,
    /// The client ids this generator runs (all of the phase's, or a
    /// shard's slice).
    pub(crate) ids: std::ops::Range<u32>,
    pub(crate) recorder: Arc<PhaseRecorder>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<ClientReport>>,
    /// Each client's cursor (the highest seq it has caught up to).
    cursors: Vec<Arc<AtomicU64>>,
}

impl Clients {
    /// Starts the clients `ids` of `specs` (one per server node, each
    /// client starting on its node, see [`crate::nodes::Nodes`]), spread
    /// over `ramp` as in a run of all `spec.clients` (client `id` at
    /// `ramp * id / clients`), their receipt times moved by
    /// `clock_offset_us` onto the server's clock.
    pub(crate) fn start(
        specs: Vec<ClientSpec>,
        ids: std::ops::Range<u32>,
        ramp: Duration,
        clock_offset_us: i64,
    ) -> Self {
        let specs: Arc<[ClientSpec]> = specs.into();
        let spec = &specs[0];
        let recorder = Arc::new(PhaseRecorder::with_clock_offset(clock_offset_us));
        let h2_groups = Arc::new(H2Groups::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(ids.len());
        let mut cursors = Vec::with_capacity(ids.len());
        let total = spec.clients.max(1) as f64;
        for id in ids.start as usize..ids.end as usize {
            let delay = ramp.mul_f64(id as f64 / total);
            let progress_cell = Arc::new(AtomicU64::new(spec.start_cursor));
            cursors.push(progress_cell.clone());
            let (specs, recorder, mut stop) = (specs.clone(), recorder.clone(), stop_rx.clone());
            let h2_groups = h2_groups.clone();
            tasks.push(tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return ClientReport::default(),
                }
                run_client(specs, id, recorder, h2_groups, progress_cell, stop).await
            }));
        }
        Clients {
            specs,
            ids,
            recorder,
            stop: stop_tx,
            tasks,
            cursors,
        }
    }

    /// What every client shares (its first node's spec).
    pub(crate) fn spec(&self) -> &ClientSpec {
        &self.specs[0]
    }

    /// How many clients this generator runs.
    pub(crate) fn count(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Whether a client has not caught up to `cursor` yet.
    pub(crate) fn behind(&self, cursor: u64) -> bool {
        self.cursors
            .iter()
            .any(|c| c.load(Ordering::Relaxed) < cursor)
    }

    /// Stops the clients and takes their reports; a client that does not
    /// stop within 5 s is aborted and reports nothing.
    pub(crate) async fn stop(&mut self) -> Vec<ClientReport> {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let mut reports = Vec::with_capacity(tasks.len());
        for task in tasks {
            let abort = task.abort_handle();
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(report)) => reports.push(report),
                _ => abort.abort(),
            }
        }
        reports
    }
}
