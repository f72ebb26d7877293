// Writing iptables-nft rules in-process (internal to the fw layer): the operations of plan.h as
// one nf_tables batch over the plain netlink socket of nfnl.h, instead of an iptables-restore
// process. Each rule becomes exactly the expressions iptables-nft 1.8.9 makes of it, so that
// iptables-save prints it as Rule::Canonical() and iptables-nft (and weft's own readers) treat it
// as one of theirs:
//   -i/-o          meta iifname/oifname + cmp (the name and its NUL; a '+' wildcard compares
//                  the prefix only)
//   -p             meta l4proto + cmp
//   -s/-d          payload (network header) [+ bitwise for a mask that is not whole bytes] + cmp
//   -m tcp/udp     payload (transport header) + cmp or range, sport and dport
//   -m mark        meta mark [+ bitwise] + cmp
//   other matches  the xt compat `match` expression with the info struct of xt.h (comment,
//                  multiport, addrtype, conntrack, sctp)
//   counter, then  immediate verdict (ACCEPT/DROP/RETURN, jump to a chain) or the compat
//                  `target` expression (DNAT, SNAT, MASQUERADE, MARK)
// and the rule carries NFTA_RULE_COMPAT (its protocol) for the compat extensions' checks. Tests
// compare every shape weft emits with what iptables-restore writes, attribute by attribute
// (tests/netns/fw_backends_test.cpp).
//
// A rule is deleted by handle: the handles of the chains the batch deletes from come from one
// NFT_MSG_GETRULE dump of each of those chains (never the whole table), served at the same
// generation the plan's state describes, and the batch is tied to that generation, so a ruleset
// changed by anyone in between refuses it as a whole (ERESTART) instead of deleting the wrong
// rule.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nfnl.h"
#include "plan.h"

namespace cni::fw {

/// What became of WriteBatch.
enum class BatchResult {
  kCommitted,
  kRestart,    // the ruleset is no longer at the generation the plan was made for: nothing done
  kRefused,    // the kernel refused a message (e.g. a table or built-in chain not created yet),
               // a delete had no handle, or the batch could not be sent: nothing done
  kUnknown,    // answers were lost: the batch may or may not have committed
};

/// Commits `ops` (made from the state `before` of every chain they touch, at generation `genid`)
/// as one batch on `sock`.
BatchResult WriteBatch(NfnlSocket& sock, Family family, const std::vector<Op>& ops,
                       const std::map<std::string, TableState>& before, uint32_t genid);

/// The NFT_MSG_NEWRULE attributes of `r` after table and chain: expressions and compat info.
void PutRuleExpressions(NfnlRequest& req, Family family, const Rule& r);

}  // namespace cni::fw
