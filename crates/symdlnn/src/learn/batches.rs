//! Minibatches of the DLNN loss.
//!
//! The loss's samples are DEL residuals: triple `k` of a trajectory needs
//! the pairs `(q_{k−1}, q_k)` and `(q_k, q_{k+1})`. A residual drawn alone
//! costs two pair evaluations, in the full batch about one (neighbouring
//! residuals share their pairs). So the unit of shuffling is a *window* of
//! [`WINDOW`] consecutive triples of one trajectory (`WINDOW + 1` pairs; a
//! trajectory's last window may be shorter); windows never straddle two
//! trajectories. Every epoch the windows are shuffled by ChaCha8 from the
//! run's seed (stream `1 + epoch`; the network initialisation uses stream
//! 0) — the same seed gives the same batches whatever the thread count —
//! and cut in order into batches of at most `B` distinct pairs. A batch
//! lists its pairs and triples in ascending (data) order, so a batch that
//! holds every pair is the full batch, bit for bit.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Triples per shuffled window.
pub const WINDOW: usize = 4;

/// One minibatch: global pair and triple indices (the order of
/// `crate::learn::dlnn::Dlnn`: trajectories in turn, pair `k` of a
/// trajectory is `(q_k, q_{k+1})`, triple `k` is the residual at `q_{k+1}`),
/// ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The pairs evaluated.
    pub pairs: Vec<usize>,
    /// The residuals (triples) of the loss; both their pairs are in `pairs`.
    pub triples: Vec<usize>,
}

/// A unit of shuffling: consecutive pairs and the triples among them.
#[derive(Clone, Debug)]
struct Unit {
    pairs: std::ops::Range<usize>,
    triples: std::ops::Range<usize>,
}

/// The batches of every epoch of a run.
#[derive(Clone, Debug)]
pub struct Batches {
    units: Vec<Unit>,
    pairs: usize,
    batch: usize,
    seed: u64,
}

impl Batches {
    /// Batches of at most `batch` pairs over trajectories of `lengths`
    /// points (a trajectory of `L ≥ 2` points has `L − 1` pairs and
    /// `L − 2` triples).
    pub fn new(lengths: &[usize], batch: usize, seed: u64) -> Self {
        let mut units = Vec::new();
        let (mut p, mut t) = (0, 0);
        for &len in lengths {
            let pairs = len.saturating_sub(1);
            let triples = len.saturating_sub(2);
            if pairs == 1 {
                // A two-point trajectory: a pair without a residual.
                units.push(Unit {
                    pairs: p..p + 1,
                    triples: t..t,
                });
            }
            for w in (0..triples).step_by(WINDOW) {
                let end = (w + WINDOW).min(triples);
                units.push(Unit {
                    pairs: p + w..p + end + 1,
                    triples: t + w..t + end,
                });
            }
            p += pairs;
            t += triples;
        }
        Self {
            units,
            pairs: p,
            batch: batch.max(WINDOW + 1),
            seed,
        }
    }

    /// Pairs in the data.
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// The batches of `epoch`: every pair and triple in exactly one batch
    /// (a pair shared by two windows in different batches in both).
    pub fn epoch(&self, epoch: usize) -> Vec<Batch> {
        let mut order: Vec<usize> = (0..self.units.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(1 + epoch as u64);
        order.shuffle(&mut rng);
        // `stamp[p] == b + 1`: pair p is in batch b already.
        let mut stamp = vec![0usize; self.pairs];
        let mut out: Vec<Batch> = Vec::new();
        let mut current = Batch {
            pairs: vec![],
            triples: vec![],
        };
        for u in order.into_iter().map(|i| &self.units[i]) {
            let id = out.len() + 1;
            let new = u.pairs.clone().filter(|&p| stamp[p] != id).count();
            if !current.pairs.is_empty() && current.pairs.len() + new > self.batch {
                out.push(std::mem::replace(
                    &mut current,
                    Batch {
                        pairs: vec![],
                        triples: vec![],
                    },
                ));
            }
            let id = out.len() + 1;
            for p in u.pairs.clone() {
                if stamp[p] != id {
                    stamp[p] = id;
                    current.pairs.push(p);
                }
            }
            current.triples.extend(u.triples.clone());
        }
        if !current.pairs.is_empty() {
            out.push(current);
        }
        for b in &mut out {
            b.pairs.sort_unstable();
            b.triples.sort_unstable();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_covers_every_triple_once_within_the_batch_size() {
        let lengths = [30, 3, 2, 17, 9];
        let b = Batches::new(&lengths, 12, 7);
        let pairs: usize = lengths.iter().map(|l| l - 1).sum();
        let triples: usize = lengths.iter().map(|l| l.saturating_sub(2)).sum();
        let epoch = b.epoch(0);
        let mut seen = vec![0; triples];
        let mut seen_pairs = vec![false; pairs];
        for batch in &epoch {
            assert!(batch.pairs.len() <= 12, "{}", batch.pairs.len());
            for &t in &batch.triples {
                seen[t] += 1;
            }
            for &p in &batch.pairs {
                seen_pairs[p] = true;
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
        assert!(seen_pairs.iter().all(|&s| s));
        // Another epoch, another order; the same epoch, the same batches.
        assert_ne!(b.epoch(1), epoch);
        assert_eq!(b.epoch(0), epoch);
        // Another seed, other batches.
        assert_ne!(Batches::new(&lengths, 12, 8).epoch(0), epoch);
    }
}
