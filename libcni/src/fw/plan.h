// The backend-independent part of every iptables call (internal to the fw layer): the current
// rules of a table as canonical iptables-save lines, and the list of operations that turns it
// into what Ensure or Remove asked for. The restore backend prints the operations as one
// iptables-restore script, the libiptc backend executes them on one handle and commits once.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "cni/fw/fw.h"

namespace cni::fw {

struct TableState {
  std::vector<std::string> chain_order;
  std::map<std::string, std::vector<std::string>, std::less<>> chains;  // chain -> rule texts
  bool Has(std::string_view chain) const { return chains.find(chain) != chains.end(); }
};

/// Parses iptables-save output; only the section of `table`.
TableState ParseSave(std::string_view save, std::string_view table);

struct Op {
  enum Kind { kNewChain, kAppend, kInsertFirst, kDelete, kFlush, kDeleteChain } kind;
  std::string table, chain;
  std::string rule;  // canonical text for kAppend/kInsertFirst/kDelete
  Rule parsed;       // the rule itself for kAppend/kInsertFirst
  size_t index = 0;  // kDelete: the rule's position in its chain when the op runs
};

/// Operations that make `chains` present; `states` maps table -> state and is updated.
std::vector<Op> PlanEnsure(Family family, std::span<const Chain> chains,
                           std::map<std::string, TableState>& states);
/// Operations that remove `chains` (kOnComplete) and the jumps into them, or only their listed
/// rules (kRulesOnly).
std::vector<Op> PlanRemove(Family family, std::span<const Chain> chains,
                           std::map<std::string, TableState>& states);
/// What is missing, in the reference's words, or nullopt.
std::optional<std::string> CheckState(Family family, std::span<const Chain> chains,
                                      const std::map<std::string, TableState>& states);

/// Go's %v of a [][]string: "[[-a b] [-c d]]".
std::string GoList(const std::vector<Args>& rules);

/// The tables `chains` touch, sorted.
std::set<std::string> TablesOf(std::span<const Chain> chains);

/// The canonical jump rule into `c` for entry rule `i` (or a bare jump when it has none).
std::string EntryRule(Family family, const Chain& c, size_t i);

}  // namespace cni::fw
