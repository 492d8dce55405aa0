// The agent-fixer protocol (agent/fixer/): what crosses unchanged, what is
// refused with a message naming the field, and the fixer's own checks on a
// real fixture tree.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixer/protocol.h"
#include "fixer/serve.h"
#include "temporary_tree.h"

namespace qharden::fixer {
namespace {

using testing::TemporaryTree;

TEST(FixerProtocol, RequestsRoundTripBytesThatAreNotUtf8) {
  Request request;
  request.operation = Operation::read_commands;
  request.root = "/srv/tree-\xff";
  request.config_file = "/etc/qharden/qharden.toml";
  request.caller = "test";
  request.commands = {{"iptables-save"}, {"nft", "-j", "list", "ruleset"}};
  request.timeout_ms = 1234;
  Expected<Request> decoded = decode_request(encode_request(request));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->operation, Operation::read_commands);
  EXPECT_EQ(decoded->root, request.root);
  EXPECT_EQ(decoded->config_file, request.config_file);
  EXPECT_EQ(decoded->commands, request.commands);
  EXPECT_EQ(decoded->timeout_ms, 1234);

  request.operation = Operation::socket_owners;
  request.config_file.reset();
  request.inode_groups = {{4294967295U, 0}, {12, 5}};
  decoded = decode_request(encode_request(request));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_FALSE(decoded->config_file);
  EXPECT_EQ(decoded->inode_groups, request.inode_groups);
}

TEST(FixerProtocol, MalformedRequestsNameWhatIsWrong) {
  struct Case {
    const char* text;
    const char* message;
  };
  std::vector<Case> cases = {
      {"", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {R"({"version":2,"operation":"apply"})", "protocol version 2"},
      {R"({"version":1,"operation":"format-disk","root":"/","caller":"x"})",
       "unknown operation \"format-disk\""},
      {R"({"version":1,"operation":"apply","root":"/","caller":"x","rules":"all",
           "rules_named":true,"only_kept":false,"reload":true})",
       "rules: expected a list of texts"},
      {R"({"version":1,"operation":"read-process","root":"/","caller":"x","pid":-1})",
       "pid: expected a whole number"},
      {R"({"version":1,"operation":"read-commands","root":"/","caller":"x","commands":[],
           "timeout_ms":5})",
       "commands: expected a list of argv lists"},
      {R"({"version":1,"operation":"rollback","root":{"base64":"!!"},"caller":"x","change_id":""})",
       "root: expected text"},
  };
  for (const Case& each : cases) {
    Expected<Request> decoded = decode_request(each.text);
    ASSERT_FALSE(decoded) << each.text;
    EXPECT_NE(decoded.error().message.find(each.message), std::string::npos)
        << each.text << " -> " << decoded.error().message;
  }
}

TEST(FixerProtocol, ResultsRoundTrip) {
  ApplyResult applied;
  applied.change_id = "20261205T100000Z-0001";
  applied.changed_anything = true;
  applied.all_succeeded = false;
  applied.outcomes = {make_outcome("tcp-env.flags", "/etc/xinetd.d/smtp\xfe", "applied"),
                      make_outcome("tcp-env.flags", "/etc/inetd.conf", "undone",
                                   "because /etc/xinetd.d/smtp\xfe was refused")};
  applied.notes = {"xinetd: reloaded"};
  Expected<ApplyResult> decoded_apply = decode_apply_result(encode_apply_result(applied));
  ASSERT_TRUE(decoded_apply) << decoded_apply.error().message;
  EXPECT_EQ(decoded_apply->change_id, applied.change_id);
  EXPECT_FALSE(decoded_apply->all_succeeded);
  EXPECT_EQ(decoded_apply->outcomes[0].subject, applied.outcomes[0].subject);
  ASSERT_EQ(decoded_apply->outcomes.size(), 2u);
  EXPECT_EQ(decoded_apply->outcomes[1].result, "undone");
  EXPECT_EQ(decoded_apply->outcomes[1].reason, applied.outcomes[1].reason);
  EXPECT_EQ(decoded_apply->outcomes[1].outcome,
            "undone, because /etc/xinetd.d/smtp\xfe was refused");
  EXPECT_EQ(decoded_apply->notes, applied.notes);

  std::vector<Expected<CommandResult>> results;
  results.emplace_back(CommandResult{0, "*filter\n\x80\x81 binary\n", ""});
  results.emplace_back(fail_with("nft: program not found"));
  Expected<std::vector<Expected<CommandResult>>> decoded_results =
      decode_command_results(encode_command_results(results));
  ASSERT_TRUE(decoded_results) << decoded_results.error().message;
  ASSERT_EQ(decoded_results->size(), 2u);
  EXPECT_EQ((*decoded_results)[0]->standard_output, "*filter\n\x80\x81 binary\n");
  EXPECT_EQ((*decoded_results)[1].error().message, "nft: program not found");

  ProcessDetails details{"tcpserver", {"tcpserver", "-v", "0", "25"}, {{"RBLSMTPD", ""}}};
  Expected<ProcessDetails> decoded_details =
      decode_process_details(encode_process_details(details));
  ASSERT_TRUE(decoded_details) << decoded_details.error().message;
  EXPECT_EQ(decoded_details->argv, details.argv);
  EXPECT_EQ(decoded_details->environment, details.environment);

  Expected<ApplyResult> refused = decode_apply_result(encode_error("no such rule"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "no such rule");
}

// A Plesk-like tree of the fixtures, copied so that the fixer can write it.
struct PleskTree {
  TemporaryTree tree;
  PleskTree() {
    std::filesystem::copy(std::string(QHARDEN_FIXTURES_DIR) + "/hosts/plesk", tree.path(),
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
  }
  FixerSettings settings() const { return FixerSettings{tree.path(), std::nullopt}; }
  Request request(Operation operation) const {
    Request made;
    made.operation = operation;
    made.root = tree.path();
    made.caller = "unit test";
    return made;
  }
};

std::string served_error(const Served& served) {
  Expected<ApplyResult> decoded = decode_apply_result(served.response);
  return decoded ? "" : decoded.error().message;
}

TEST(FixerServe, RefusesAnotherRootAnotherConfigAndCommandsOutsideTheList) {
  PleskTree plesk;
  Request request = plesk.request(Operation::apply);
  request.rules = {"tcp-env.flags"};
  request.root = "/";
  EXPECT_NE(served_error(serve_request(encode_request(request), plesk.settings()))
                .find("this fixer serves root " + plesk.tree.path() + ", not /"),
            std::string::npos);
  request.root = plesk.tree.path();
  request.config_file = "/tmp/other.toml";
  EXPECT_NE(served_error(serve_request(encode_request(request), plesk.settings()))
                .find("this fixer reads config (default), not /tmp/other.toml"),
            std::string::npos);

  Request command = plesk.request(Operation::read_commands);
  command.commands = {{"iptables-save"}, {"sh", "-c", "id"}};
  Served served = serve_request(encode_request(command), plesk.settings());
  Expected<std::vector<Expected<CommandResult>>> results = decode_command_results(served.response);
  ASSERT_FALSE(results);
  EXPECT_NE(results.error().message.find("sh -c id: not one of the read-only commands"),
            std::string::npos)
      << results.error().message;
}

TEST(FixerServe, AppliesNamedRulesAndReappliesOnlyWhatIsKept) {
  PleskTree plesk;
  std::string smtp_psa = plesk.tree.read("/etc/xinetd.d/smtp_psa");
  // A re-apply on a host where nothing was applied changes nothing.
  Request reapply = plesk.request(Operation::apply);
  reapply.rules = {"tcp-env.flags"};
  reapply.rules_named = true;
  reapply.only_kept = true;
  Expected<ApplyResult> nothing =
      decode_apply_result(serve_request(encode_request(reapply), plesk.settings()).response);
  ASSERT_TRUE(nothing) << nothing.error().message;
  EXPECT_TRUE(nothing->change_id.empty());
  EXPECT_EQ(plesk.tree.read("/etc/xinetd.d/smtp_psa"), smtp_psa);

  // A rule the operator left out of agent.reapply is not re-applied.
  Request unlisted = reapply;
  unlisted.rules = {"resolv.nameservers"};
  EXPECT_NE(served_error(serve_request(encode_request(unlisted), plesk.settings()))
                .find("resolv.nameservers is not in agent.reapply"),
            std::string::npos);

  Request apply = plesk.request(Operation::apply);
  apply.rules = {"tcp-env.flags"};
  apply.rules_named = true;
  apply.reload = false;
  Expected<ApplyResult> applied =
      decode_apply_result(serve_request(encode_request(apply), plesk.settings()).response);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_FALSE(applied->change_id.empty());
  EXPECT_NE(plesk.tree.read("/etc/xinetd.d/smtp_psa"), smtp_psa);

  plesk.tree.write("/etc/xinetd.d/smtp_psa", smtp_psa);  // Plesk puts its own back
  Expected<ApplyResult> kept =
      decode_apply_result(serve_request(encode_request(reapply), plesk.settings()).response);
  ASSERT_TRUE(kept) << kept.error().message;
  ASSERT_EQ(kept->outcomes.size(), 1u);
  EXPECT_EQ(kept->outcomes[0].subject, "/etc/xinetd.d/smtp_psa");
  EXPECT_EQ(kept->outcomes[0].outcome, "applied");
  EXPECT_NE(plesk.tree.read("/etc/xinetd.d/smtp_psa").find("-Rt0"), std::string::npos);

  Request rollback = plesk.request(Operation::rollback);
  Expected<RollbackResult> rolled =
      decode_rollback_result(serve_request(encode_request(rollback), plesk.settings()).response);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(rolled->change_id, kept->change_id);
  rollback.change_id = "../../etc";
  EXPECT_NE(
      decode_rollback_result(serve_request(encode_request(rollback), plesk.settings()).response)
          .error()
          .message.find("is not a change id"),
      std::string::npos);
}

}  // namespace
}  // namespace qharden::fixer
