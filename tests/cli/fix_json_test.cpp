// plan --json, --detailed-exitcode, apply --json and config check: the
// contracts automation reads (design.md "Automation contracts"), on copies of
// the Plesk fixture tree, through the real binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../unit/temporary_tree.h"
#include "run_qharden.h"

namespace qharden::testing {
namespace {

constexpr const char* kSmtp = "/etc/xinetd.d/smtp_psa";
constexpr const char* kSubmission = "/etc/xinetd.d/submission_psa";

struct PleskCopy {
  TemporaryTree tree;
  PleskCopy() { tree.copy_from(fixture_host("plesk")); }
  RunResult run(std::vector<std::string> arguments) const {
    arguments.insert(arguments.end(), {"--root", tree.path(), "--offline"});
    return run_qharden(arguments);
  }
};

std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  unsigned value = 0;
  int bits = 0;
  for (char character : text) {
    if (character == '=') break;
    value = (value << 6) | static_cast<unsigned>(alphabet.find(character));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return bytes;
}

const nlohmann::json* change_for(const nlohmann::json& plan, const std::string& path) {
  for (const nlohmann::json& change : plan["changes"]) {
    if (change.value("path", "") == path) return &change;
  }
  return nullptr;
}

TEST(PlanJson, GivesTheExactBytesBeforeAndAfterAndWritesNothing) {
  PleskCopy host;
  std::string before = host.tree.read(kSmtp);
  RunResult plan = host.run({"plan", "--json", "--rule", "tcp-env.flags"});
  ASSERT_EQ(plan.exit_code, 0) << plan.standard_error;
  nlohmann::json document = plan.json();
  EXPECT_EQ(document["schema"], 1);
  EXPECT_EQ(document["kind"], "plan");
  EXPECT_EQ(document["tool"]["version"], QHARDEN_VERSION);
  EXPECT_EQ(document["pending"], document["changes"].size());
  const nlohmann::json* smtp = change_for(document, kSmtp);
  ASSERT_NE(smtp, nullptr) << plan.standard_output;
  EXPECT_EQ((*smtp)["rule"], "tcp-env.flags");
  EXPECT_EQ((*smtp)["kind"], "file");
  EXPECT_EQ((*smtp)["encoding"], "utf-8");
  EXPECT_EQ((*smtp)["before"], before);
  std::string after = (*smtp)["after"];
  EXPECT_NE(after.find("server_args\t= -Rt0 /usr/sbin/rblsmtpd"), std::string::npos) << after;
  EXPECT_NE((*smtp)["diff"].get<std::string>().find("+\tserver_args\t= -Rt0"), std::string::npos);
  EXPECT_EQ(host.tree.read(kSmtp), before);
}

TEST(PlanJson, ContentThatIsNotUtf8IsBase64OnBothSides) {
  PleskCopy host;
  std::string original = host.tree.read(kSmtp);
  std::string with_latin1 =
      "# Gr\xfc\xdf"
      "e vom Admin\n" +
      original;
  host.tree.write(kSmtp, with_latin1);
  RunResult plan = host.run({"plan", "--json", "--rule", "tcp-env.flags"});
  ASSERT_EQ(plan.exit_code, 0) << plan.standard_error;
  nlohmann::json document = plan.json();
  const nlohmann::json* smtp = change_for(document, kSmtp);
  ASSERT_NE(smtp, nullptr) << plan.standard_output;
  EXPECT_EQ((*smtp)["encoding"], "base64");
  EXPECT_EQ(base64_decode((*smtp)["before"]), with_latin1);
  EXPECT_NE(base64_decode((*smtp)["after"])
                .find("# Gr\xfc\xdf"
                      "e vom Admin\n"),
            std::string::npos);
}

struct DetailedExitCase {
  const char* name;
  std::vector<std::string> arguments;
  int expected;
};

TEST(PlanJson, DetailedExitCodes) {
  PleskCopy host;
  std::vector<DetailedExitCase> cases = {
      {"changes pending", {"plan", "--detailed-exitcode", "--rule", "tcp-env.flags"}, 2},
      {"a refusal (no /etc/sysctl.d in the tree)",
       {"plan", "--detailed-exitcode", "--rule", "sysctl.tcp-fin-timeout"},
       1},
      {"nothing to fix", {"plan", "--detailed-exitcode", "--rule", "tcpserver.flags"}, 0},
      {"bad usage", {"plan", "--detailed-exitcode", "--rule", "no.such-rule"}, 3},
      {"without the flag, changes still exit 0", {"plan", "--rule", "tcp-env.flags"}, 0},
  };
  for (const DetailedExitCase& test_case : cases) {
    RunResult result = host.run(test_case.arguments);
    EXPECT_EQ(result.exit_code, test_case.expected)
        << test_case.name << "\n"
        << result.standard_output << result.standard_error;
  }
  RunResult json_plan = host.run({"plan", "--json", "--rule", "tcp-env.flags"});
  EXPECT_EQ(json_plan.json()["exit_code"], 2);
  RunResult bad = host.run({"plan", "--json", "--rule", "no.such-rule"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_TRUE(bad.standard_output.empty()) << "bad usage prints no half JSON";
}

TEST(ApplyJson, AppliesThenHasNothingToDoThenPlanIsClean) {
  PleskCopy host;
  RunResult first = host.run({"apply", "--json", "--rule", "tcp-env.flags"});
  ASSERT_EQ(first.exit_code, 0) << first.standard_output << first.standard_error;
  nlohmann::json applied = first.json();
  EXPECT_EQ(applied["kind"], "apply");
  EXPECT_TRUE(applied["changed"]);
  EXPECT_TRUE(applied["change_id"].is_string());
  EXPECT_EQ(applied["exit_code"], 0);
  ASSERT_EQ(applied["outcomes"].size(), 2u) << first.standard_output;
  for (const nlohmann::json& outcome : applied["outcomes"]) {
    EXPECT_EQ(outcome["result"], "applied") << outcome.dump();
    // The contract: per change the path and the bytes before and after.
    EXPECT_EQ(outcome["kind"], "file") << outcome.dump();
    EXPECT_EQ(outcome["path"], outcome["subject"]) << outcome.dump();
    EXPECT_EQ(outcome["encoding"], "utf-8") << outcome.dump();
    EXPECT_EQ(outcome["before"].get<std::string>().find("-Rt0"), std::string::npos);
    EXPECT_EQ(outcome["after"], host.tree.read(outcome["path"].get<std::string>()));
  }
  EXPECT_NE(host.tree.read(kSmtp).find("-Rt0"), std::string::npos);

  RunResult second = host.run({"apply", "--json", "--rule", "tcp-env.flags"});
  ASSERT_EQ(second.exit_code, 0) << second.standard_error;
  EXPECT_FALSE(second.json()["changed"]);
  EXPECT_TRUE(second.json()["change_id"].is_null());
  EXPECT_EQ(host.run({"plan", "--detailed-exitcode", "--rule", "tcp-env.flags"}).exit_code, 0);
}

// One file of a rule refused: the other file's change is undone, and both the
// JSON and the text say so instead of "applied".
TEST(ApplyJson, AnotherFileRefusedUndoesTheRulesEarlierFileAndSaysWhy) {
  PleskCopy text_host;
  PleskCopy json_host;
  for (const PleskCopy* host : {&text_host, &json_host}) {
    std::string content = host->tree.read(kSubmission);
    host->tree.write("/etc/xinetd.d/submission.real", content);
    std::filesystem::remove(host->tree.real(kSubmission));
    host->tree.symlink("submission.real", kSubmission);
  }
  std::string smtp_before = json_host.tree.read(kSmtp);

  RunResult json_run = json_host.run({"apply", "--json", "--rule", "tcp-env.flags"});
  EXPECT_EQ(json_run.exit_code, 1) << json_run.standard_output;
  nlohmann::json applied = json_run.json();
  EXPECT_EQ(applied["exit_code"], 1);
  EXPECT_FALSE(applied["changed"]);
  std::map<std::string, nlohmann::json> by_subject;
  for (const nlohmann::json& outcome : applied["outcomes"])
    by_subject[outcome["subject"]] = outcome;
  ASSERT_TRUE(by_subject.count(kSmtp)) << json_run.standard_output;
  EXPECT_EQ(by_subject[kSmtp]["result"], "undone");
  EXPECT_EQ(by_subject[kSmtp]["path"], kSmtp) << "an undone change still says what it was";
  EXPECT_EQ(by_subject[kSmtp]["reason"], std::string("because ") + kSubmission + " was refused");
  EXPECT_EQ(by_subject[kSubmission]["result"], "refused");
  EXPECT_NE(by_subject[kSubmission]["reason"].get<std::string>().find("symlink"),
            std::string::npos);
  EXPECT_EQ(json_host.tree.read(kSmtp), smtp_before);

  RunResult text_run = text_host.run({"apply", "--rule", "tcp-env.flags"});
  EXPECT_EQ(text_run.exit_code, 1);
  EXPECT_NE(text_run.standard_output.find(std::string("tcp-env.flags  ") + kSmtp +
                                          "  undone, because " + kSubmission + " was refused"),
            std::string::npos)
      << text_run.standard_output;
  EXPECT_EQ(text_run.standard_output.find(std::string(kSmtp) + "  applied"), std::string::npos)
      << text_run.standard_output;
}

struct ConfigCheckCase {
  const char* name;
  std::string content;
  int expected;
  std::string expected_message;  // a part of stderr
};

TEST(ConfigCheck, ValidatesAFileAndNamesFileLineAndColumn) {
  TemporaryTree tree;
  std::vector<ConfigCheckCase> cases = {
      {"empty file: the built-in defaults", "", 0, ""},
      {"a valid override", "[rules.\"smtp.greeting\"]\nmax_ms = 2000\n", 0, ""},
      {"an unknown key", "[paths]\nno_such_key = 1\n", 3, "no_such_key"},
      {"a wrong type", "[rules.\"smtp.greeting\"]\nmax_ms = \"fast\"\n", 3, ":2:"},
      {"not TOML at all", "max_ms = \n", 3, ":1:"},
  };
  for (const ConfigCheckCase& test_case : cases) {
    tree.write("/qharden.toml", test_case.content);
    std::string file = tree.real("/qharden.toml");
    RunResult result = run_qharden({"config", "check", file});
    EXPECT_EQ(result.exit_code, test_case.expected)
        << test_case.name << ": " << result.standard_error;
    if (test_case.expected == 0) {
      EXPECT_EQ(result.standard_output, file + ": valid\n") << test_case.name;
    } else {
      EXPECT_EQ(result.standard_error.rfind(file + ":", 0), 0u)
          << test_case.name << ": " << result.standard_error;
      EXPECT_NE(result.standard_error.find(test_case.expected_message), std::string::npos)
          << test_case.name << ": " << result.standard_error;
    }
  }
  RunResult missing = run_qharden({"config", "check", tree.real("/absent.toml")});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.standard_error.find("absent.toml: cannot be read"), std::string::npos)
      << missing.standard_error;
  EXPECT_EQ(run_qharden({"config", "check"}).exit_code, 3);
}

}  // namespace
}  // namespace qharden::testing
