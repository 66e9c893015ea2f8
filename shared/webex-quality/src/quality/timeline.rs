//! One stream's classified minutes, indexed by minute: a dense vector rather than a map, since a
//! session's minutes are consecutive (a render classifies every minute of every session, and a
//! tree of cells was a tenth of its time in the profile).

use super::Cell;

/// The cell of each minute with a sample, by minute from the session's origin. Minutes without a
/// sample have no cell (not "no data": that is a cell whose sample had nothing to judge by).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The minute of `cells[0]`.
    first: usize,
    cells: Vec<Option<Cell>>,
}

impl Timeline {
    /// An empty timeline.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The cell of `minute`, if it has one.
    #[must_use]
    pub fn get(&self, minute: usize) -> Option<&Cell> {
        self.cells.get(minute.checked_sub(self.first)?)?.as_ref()
    }

    /// The minutes with a cell, in order, with their cells.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (usize, &Cell)> + '_ {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| Some((self.first + i, cell.as_ref()?)))
    }

    /// The last minute with a cell.
    #[must_use]
    pub fn last_minute(&self) -> Option<usize> {
        self.iter().next_back().map(|(minute, _)| minute)
    }

    /// How many minutes have a cell.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cells.iter().filter(|c| c.is_some()).count()
    }

    /// Whether no minute has a cell.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cells.iter().all(Option::is_none)
    }

    /// Puts `cell` at `minute`, unless the cell already there is at least as bad.
    pub fn keep_worst(&mut self, minute: usize, cell: Cell) {
        if self.cells.is_empty() {
            self.first = minute;
            // An hour of minutes at once rather than growing from four (a tenth of the
            // classification's time was spent growing these).
            self.cells.reserve(64);
        } else if minute < self.first {
            let mut grown = vec![None; self.first - minute];
            grown.append(&mut self.cells);
            self.cells = grown;
            self.first = minute;
        }
        let index = minute - self.first;
        if index >= self.cells.len() {
            self.cells.resize(index + 1, None);
        }
        let slot = &mut self.cells[index];
        match slot {
            Some(current) if current.verdict >= cell.verdict => {}
            _ => *slot = Some(cell),
        }
    }

    /// Puts each of `other`'s cells in with [`Timeline::keep_worst`].
    pub fn merge_worst(&mut self, other: &Self) {
        for (minute, cell) in other.iter() {
            self.keep_worst(minute, *cell);
        }
    }
}

impl FromIterator<(usize, Cell)> for Timeline {
    fn from_iter<I: IntoIterator<Item = (usize, Cell)>>(iter: I) -> Self {
        let mut timeline = Self::new();
        for (minute, cell) in iter {
            timeline.keep_worst(minute, cell);
        }
        timeline
    }
}

/// As a map from minute to cell, as the tree it replaced was.
impl serde::Serialize for Timeline {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::{Sample, Verdict};

    fn cell(verdict: Verdict) -> Cell {
        Cell {
            verdict,
            metric: None,
            sample: Sample::default(),
        }
    }

    #[test]
    fn minutes_keep_their_worst_cell_in_any_order() {
        let mut t = Timeline::new();
        assert!(t.is_empty());
        assert_eq!(t.last_minute(), None);
        t.keep_worst(5, cell(Verdict::Good));
        t.keep_worst(7, cell(Verdict::NoData));
        t.keep_worst(2, cell(Verdict::Fair));
        t.keep_worst(5, cell(Verdict::Poor));
        t.keep_worst(5, cell(Verdict::Fair));
        t.keep_worst(2, cell(Verdict::NoData));
        let got: Vec<(usize, Verdict)> = t.iter().map(|(m, c)| (m, c.verdict)).collect();
        assert_eq!(
            got,
            [(2, Verdict::Fair), (5, Verdict::Poor), (7, Verdict::NoData)]
        );
        assert_eq!((t.len(), t.last_minute()), (3, Some(7)));
        assert_eq!(t.get(3), None);
        assert_eq!(t.get(1), None);
        assert_eq!(t.get(9), None);
        assert_eq!(t.get(7).map(|c| c.verdict), Some(Verdict::NoData));
        let mut other: Timeline = [(0, cell(Verdict::Poor)), (7, cell(Verdict::Good))]
            .into_iter()
            .collect();
        other.merge_worst(&t);
        let got: Vec<(usize, Verdict)> = other.iter().map(|(m, c)| (m, c.verdict)).collect();
        assert_eq!(
            got,
            [
                (0, Verdict::Poor),
                (2, Verdict::Fair),
                (5, Verdict::Poor),
                (7, Verdict::Good)
            ]
        );
        assert_eq!(
            serde_json::to_value(&t).unwrap()["5"]["verdict"],
            serde_json::json!("poor")
        );
    }
}
