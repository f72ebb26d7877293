// See plan.h.
#include "plan.h"

#include <algorithm>

namespace cni::fw {

TableState ParseSave(std::string_view save, std::string_view table) {
  TableState st;
  bool in = false;
  size_t pos = 0;
  while (pos < save.size()) {
    size_t end = save.find('\n', pos);
    if (end == std::string_view::npos) end = save.size();
    std::string_view line = save.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      in = line.substr(1) == table;
    } else if (!in) {
      continue;
    } else if (line[0] == ':') {
      std::string name(line.substr(1, line.find(' ') - 1));
      st.chain_order.push_back(name);
      st.chains[name];
    } else if (line.starts_with("-A ")) {
      std::string_view rest = line.substr(3);
      size_t sp = rest.find(' ');
      std::string chain(rest.substr(0, sp));
      st.chains[chain].emplace_back(sp == std::string_view::npos ? "" : rest.substr(sp + 1));
    }
  }
  return st;
}

std::set<std::string> TablesOf(std::span<const Chain> chains) {
  std::set<std::string> t;
  for (const Chain& c : chains) t.insert(c.table);
  return t;
}

std::string EntryRule(Family family, const Chain& c, size_t i) {
  Args a = i < c.entry_rules.size() ? c.entry_rules[i] : Args{};
  a.push_back("-j");
  a.push_back(c.name);
  return Rule::Parse(family, a).Canonical();
}

namespace {

std::vector<std::string> EntryRules(Family family, const Chain& c) {
  std::vector<std::string> out;
  size_t n = std::max<size_t>(1, c.entry_rules.size());
  for (size_t i = 0; i < n; ++i) out.push_back(EntryRule(family, c, i));
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool JumpsTo(const std::string& rule, const std::string& chain) {
  for (std::string_view verb : {"-j ", "-g "}) {
    std::string tail = std::string(verb) + chain;
    if (rule == tail || rule.ends_with(" " + tail)) return true;
  }
  return false;
}

}  // namespace

std::string GoList(const std::vector<Args>& rules) {
  std::string out = "[";
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i) out += ' ';
    out += '[';
    for (size_t j = 0; j < rules[i].size(); ++j) out += (j ? " " : "") + rules[i][j];
    out += ']';
  }
  return out + "]";
}

std::vector<Op> PlanEnsure(Family family, std::span<const Chain> chains,
                           std::map<std::string, TableState>& states) {
  std::vector<Op> ops;
  for (const Chain& c : chains) {
    CheckChainName(c.name);
    for (const std::string& e : c.entry_chains) CheckChainName(e);
    TableState& st = states[c.table];
    if (!st.Has(c.name)) {
      ops.push_back({Op::kNewChain, c.table, c.name, "", {}, 0});
      st.chains[c.name];
      st.chain_order.push_back(c.name);
    }
    for (auto a = c.head_rules.rbegin(); a != c.head_rules.rend(); ++a) {
      Rule parsed = Rule::Parse(family, *a);
      std::string r = parsed.Canonical();
      std::vector<std::string>& have = st.chains[c.name];
      if (Contains(have, r)) continue;
      ops.push_back({Op::kInsertFirst, c.table, c.name, r, std::move(parsed), 0});
      have.insert(have.begin(), r);
    }
    for (const Args& a : c.rules) {
      Rule parsed = Rule::Parse(family, a);
      std::string r = parsed.Canonical();
      std::vector<std::string>& have = st.chains[c.name];
      if (Contains(have, r)) continue;
      ops.push_back({Op::kAppend, c.table, c.name, r, std::move(parsed), 0});
      have.push_back(r);
    }
    std::vector<std::string> entries = EntryRules(family, c);
    for (const std::string& entry : c.entry_chains) {
      std::vector<std::string>& have = st.chains[entry];
      for (size_t i = 0; i < entries.size(); ++i) {
        const std::string& r = entries[i];
        if (Contains(have, r)) continue;
        Args a = i < c.entry_rules.size() ? c.entry_rules[i] : Args{};
        a.insert(a.end(), {"-j", c.name});
        Rule parsed = Rule::Parse(family, a);
        if (c.prepend_entry) {
          ops.push_back({Op::kInsertFirst, c.table, entry, r, std::move(parsed), 0});
          have.insert(have.begin(), r);
        } else {
          ops.push_back({Op::kAppend, c.table, entry, r, std::move(parsed), 0});
          have.push_back(r);
        }
      }
    }
  }
  return ops;
}

std::vector<Op> PlanRemove(Family family, std::span<const Chain> chains,
                           std::map<std::string, TableState>& states) {
  std::vector<Op> ops;
  for (const Chain& c : chains) {
    if (c.teardown == TeardownPolicy::kNever) continue;
    TableState& st = states[c.table];
    if (!st.Has(c.name)) continue;
    if (c.teardown == TeardownPolicy::kRulesOnly) {
      std::vector<std::string>& have = st.chains[c.name];
      for (const std::vector<Args>* list : {&c.head_rules, &c.rules}) {
        for (const Args& a : *list) {
          std::string r = Rule::Parse(family, a).Canonical();
          for (auto it = std::find(have.begin(), have.end(), r); it != have.end();
               it = std::find(have.begin(), have.end(), r)) {
            ops.push_back({Op::kDelete, c.table, c.name, r, {}, static_cast<size_t>(it - have.begin())});
            have.erase(it);
          }
        }
      }
      continue;
    }
    for (const std::string& entry : c.entry_chains) {
      auto it = st.chains.find(entry);
      if (it == st.chains.end()) continue;
      std::vector<std::string>& rules = it->second;
      for (auto r = rules.begin(); r != rules.end();) {
        if (JumpsTo(*r, c.name)) {
          ops.push_back({Op::kDelete, c.table, entry, *r, {},
                         static_cast<size_t>(r - rules.begin())});
          r = rules.erase(r);
        } else {
          ++r;
        }
      }
    }
    ops.push_back({Op::kFlush, c.table, c.name, "", {}, 0});
    ops.push_back({Op::kDeleteChain, c.table, c.name, "", {}, 0});
    st.chains.erase(c.name);
    std::erase(st.chain_order, c.name);
  }
  return ops;
}

std::optional<std::string> CheckState(Family family, std::span<const Chain> chains,
                                      const std::map<std::string, TableState>& states) {
  static const TableState kEmpty;
  for (const Chain& c : chains) {
    auto sit = states.find(c.table);
    const TableState& st = sit == states.end() ? kEmpty : sit->second;
    auto it = st.chains.find(c.name);
    if (it == st.chains.end())
      return "chain " + c.name + " not found in iptables table " + c.table;
    for (const Args& a : c.head_rules) {
      if (!Contains(it->second, Rule::Parse(family, a).Canonical()))
        return "rule " + GoList(c.head_rules) + " in chain " + c.name + " not found in table " + c.table;
    }
    // Reverse order, as the reference checks; the message lists all rules as Go's %v does.
    for (auto a = c.rules.rbegin(); a != c.rules.rend(); ++a) {
      std::string r = Rule::Parse(family, *a).Canonical();
      if (!Contains(it->second, r))
        return "rule " + GoList(c.rules) + " in chain " + c.name + " not found in table " + c.table;
    }
    std::vector<std::string> entries = EntryRules(family, c);
    for (const std::string& entry : c.entry_chains) {
      auto e = st.chains.find(entry);
      for (const std::string& r : entries) {
        if (e == st.chains.end() || !Contains(e->second, r))
          return "rule " + GoList(c.entry_rules) + " in chain " + entry + " not found in table " +
                 c.table;
      }
    }
  }
  return std::nullopt;
}

}  // namespace cni::fw
