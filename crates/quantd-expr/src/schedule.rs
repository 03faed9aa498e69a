//! How a compiled plan is run: [`schedule`] turns the nodes into [`Step`]s, folding trees of
//! `and`s (or `or`s) over comparisons into chains computed in one buffer.

use crate::plan::{Arith, Bool, Leaf, Node, Num, Op, Side, Step, Ta, Window, operands};

/// The evaluation steps for `nodes` (see [`Step`]): every comparison, `and` and `or` that is not
/// folded into another one's chain becomes a chain of its own; other nodes run as they are.
///
/// A comparison, or an `and` inside an `and` (an `or` inside an `or`), is folded into the node
/// that reads it when that is its only reader and it is not an output; an arithmetic node with a
/// constant operand is folded into a comparison on the same terms (see [`Side`]). Folded nodes
/// write no buffer, which is safe because nothing else reads it. An `sma` that only a chain's
/// comparison reads (not the chain's first term) stores its window sums, which the chain divides
/// where it needs them ([`Step::SmaSums`]).
pub(crate) fn schedule(
    nodes: &[Node],
    num_lb: &[usize],
    bool_lb: &[usize],
    indicator_bufs: &[u32],
    output_bufs: &[u32],
) -> Vec<Step> {
    // Readers of each buffer; outputs and indicators count as readers (they are kept).
    let mut num_uses = vec![0u32; num_lb.len()];
    let mut bool_uses = vec![0u32; bool_lb.len()];
    for node in nodes {
        operands(
            &node.op,
            |n| {
                if let Num::Buf(b) = n {
                    num_uses[b as usize] += 1;
                }
            },
            |c| {
                if let Bool::Buf(b) = c {
                    bool_uses[b as usize] += 1;
                }
            },
        );
    }
    for &b in indicator_bufs {
        num_uses[b as usize] += 1;
    }
    for &b in output_bufs {
        bool_uses[b as usize] += 1;
    }
    // The node writing each condition buffer, and each single-output number node's buffer.
    let mut bool_node = vec![usize::MAX; bool_lb.len()];
    let mut num_node = vec![usize::MAX; num_lb.len()];
    for (i, node) in nodes.iter().enumerate() {
        if node.is_bool() {
            bool_node[node.out as usize] = i;
        } else if node.op.num_outputs() == 1 {
            num_node[node.out as usize] = i;
        }
    }
    let s = Scheduler {
        nodes,
        num_uses,
        bool_uses,
        bool_node,
        num_node,
    };
    // Per node: folded into a chain (no step of its own), or an `sma` run up to its sums.
    let mut marks = Marks {
        folded: vec![false; nodes.len()],
        sums: vec![false; nodes.len()],
    };
    let mut steps = Vec::with_capacity(nodes.len());
    // Readers come after what they read, so walking backwards meets a chain's root first.
    for (i, node) in nodes.iter().enumerate().rev() {
        if marks.folded[i] {
            continue;
        }
        let and = match node.op {
            Op::And(..) | Op::Cmp(..) => true,
            Op::Or(..) => false,
            _ if marks.sums[i] => {
                steps.push(Step::SmaSums(i));
                continue;
            }
            _ => {
                steps.push(Step::Node(i));
                continue;
            }
        };
        let mut leaves = Vec::new();
        s.collect(i, and, &mut leaves, &mut marks);
        // Cheapest terms first: blocks a term settles are skipped by the terms after it (and
        // an `sma` side is divided only in the blocks that are left), while `and` / `or` do not
        // depend on the order (nothing has side effects).
        leaves.sort_by_key(|leaf| match leaf {
            Leaf::Bool(_) => 0,
            Leaf::Cmp(_, a, b) => {
                let cost = |s: &Side| match s {
                    Side::Const(_) => 0,
                    Side::Affine { sum_of, .. } => {
                        1 + usize::from(!is_plain(s)) + 2 * usize::from(sum_of.is_some())
                    }
                };
                cost(a) + cost(b)
            }
        });
        // The first term is computed on every bar: its `sma` sides are better divided by the
        // `sma` kernel itself (where the division overlaps the running sum).
        if let Some(Leaf::Cmp(_, a, b)) = leaves.first_mut() {
            for side in [a, b] {
                if let Side::Affine {
                    x: Num::Buf(buf),
                    sum_of: sum_of @ Some(_),
                    ..
                } = side
                {
                    *sum_of = None;
                    marks.sums[s.num_node[*buf as usize]] = false;
                }
            }
        }
        steps.push(Step::Chain {
            and,
            out: node.out,
            skip: bool_lb[node.out as usize],
            leaves,
        });
    }
    steps.reverse();
    steps
}

/// Whether a side is a column as it is (no folded arithmetic).
fn is_plain(s: &Side) -> bool {
    matches!(
        s,
        Side::Affine {
            scale: 1.0,
            shift: 0.0,
            ..
        }
    )
}

struct Scheduler<'a> {
    nodes: &'a [Node],
    num_uses: Vec<u32>,
    bool_uses: Vec<u32>,
    bool_node: Vec<usize>,
    num_node: Vec<usize>,
}

/// What [`schedule`] decided about each node.
struct Marks {
    /// Folded into a chain's leaf: no step of its own.
    folded: Vec<bool>,
    /// An `sma` whose only reader divides its sums itself: runs as [`Step::SmaSums`].
    sums: Vec<bool>,
}

impl Scheduler<'_> {
    /// Appends the leaves of node `i` (a comparison, or an `and` / `or` of the chain's kind) to
    /// `leaves`, marking the nodes folded into them.
    fn collect(&self, i: usize, and: bool, leaves: &mut Vec<Leaf>, marks: &mut Marks) {
        /// What is left to visit, the next one last: a node to take apart, or a leaf to add.
        enum Visit {
            Node(usize),
            Leaf(Bool),
        }
        // An explicit stack rather than recursion: a chain of thousands of `and`s is a tree of
        // that height.
        let mut stack = vec![Visit::Node(i)];
        while let Some(visit) = stack.pop() {
            let j = match visit {
                Visit::Leaf(x) => {
                    leaves.push(Leaf::Bool(x));
                    continue;
                }
                Visit::Node(j) => j,
            };
            match self.nodes[j].op {
                Op::Cmp(op, a, b) => {
                    let a = self.side(a, marks);
                    let b = self.side(b, marks);
                    leaves.push(Leaf::Cmp(op, a, b));
                }
                Op::And(a, b) | Op::Or(a, b) => {
                    // `b` is pushed first so that `a`'s leaves come first.
                    for x in [b, a] {
                        stack.push(match self.foldable_cond(x, and) {
                            Some(k) => {
                                marks.folded[k] = true;
                                Visit::Node(k)
                            }
                            None => Visit::Leaf(x),
                        });
                    }
                }
                // Only comparisons, `and`s and `or`s are folded into a chain.
                _ => {}
            }
        }
    }

    /// The node of condition `x` if it can be folded into a chain of kind `and`.
    fn foldable_cond(&self, x: Bool, and: bool) -> Option<usize> {
        let Bool::Buf(b) = x else { return None };
        if self.bool_uses[b as usize] != 1 {
            return None;
        }
        let j = self.bool_node[b as usize];
        match self.nodes[j].op {
            Op::Cmp(..) => Some(j),
            Op::And(..) if and => Some(j),
            Op::Or(..) if !and => Some(j),
            _ => None,
        }
    }

    /// A comparison operand, with a single-reader `x op constant` node folded in, and a
    /// single-reader `sma` left to be divided by the chain.
    fn side(&self, n: Num, marks: &mut Marks) -> Side {
        let (x, scale, shift) = match n {
            Num::Const(bits) => return Side::Const(f64::from_bits(bits)),
            Num::In(_) => (n, 1.0, 0.0),
            Num::Buf(b) => self.fold_arith(b as usize, marks).unwrap_or((n, 1.0, 0.0)),
        };
        let mut sum_of = None;
        if let Num::Buf(b) = x {
            let b = b as usize;
            let j = self.num_node[b];
            if j != usize::MAX
                && self.num_uses[b] == 1
                && let Op::Ta(Ta::Window(Window::Sma, _, p)) = self.nodes[j].op
            {
                marks.sums[j] = true;
                sum_of = Some(p);
            }
        }
        Side::Affine {
            x,
            scale,
            shift,
            sum_of,
        }
    }

    /// `x * scale + shift` for number buffer `b` if it is an `x op constant` node that only one
    /// comparison reads (the node is then folded into it).
    fn fold_arith(&self, b: usize, marks: &mut Marks) -> Option<(Num, f64, f64)> {
        let j = self.num_node[b];
        if j == usize::MAX || self.num_uses[b] != 1 {
            return None;
        }
        let Op::Arith(op, x, y) = self.nodes[j].op else {
            return None;
        };
        let affine = match (op, x.as_const(), y.as_const()) {
            (Arith::Mul, Some(k), None) => (y, k, 0.0),
            (Arith::Mul, None, Some(k)) => (x, k, 0.0),
            (Arith::Add, Some(k), None) => (y, 1.0, k),
            (Arith::Add, None, Some(k)) => (x, 1.0, k),
            (Arith::Sub, None, Some(k)) => (x, 1.0, -k),
            (Arith::Sub, Some(k), None) => (y, -1.0, k),
            _ => return None,
        };
        marks.folded[j] = true;
        Some(affine)
    }
}
