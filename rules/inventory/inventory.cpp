#include "inventory/inventory.h"

#include "config/config.h"
#include "host/host.h"

namespace qharden {

ServiceInventory collect_service_inventory(const Host& host, const Config& config) {
  ServiceInventory inventory;
  collect_xinetd_services(host, config, inventory);
  collect_inetd_services(host, config, inventory);
  collect_run_scripts(host, config, inventory);
  collect_systemd_units(host, config, inventory);
  return inventory;
}

std::optional<std::size_t> find_program_word(const std::vector<std::string>& argv,
                                             std::string_view program) {
  for (std::size_t index = 0; index < argv.size(); ++index) {
    std::string_view word = argv[index];
    std::size_t slash = word.rfind('/');
    std::string_view base = slash == std::string_view::npos ? word : word.substr(slash + 1);
    if (base == program) return index;
  }
  return std::nullopt;
}

BurstLimitSettings::BurstLimitSettings(std::vector<BurstLimitSetting> settings)
    : settings_(std::make_shared<const std::vector<BurstLimitSetting>>(std::move(settings))) {}

BurstLimitSettings& BurstLimitSettings::operator=(std::vector<BurstLimitSetting> settings) {
  settings_ = std::make_shared<const std::vector<BurstLimitSetting>>(std::move(settings));
  return *this;
}

const std::vector<BurstLimitSetting>& BurstLimitSettings::values() const {
  static const std::vector<BurstLimitSetting> none;
  return settings_ ? *settings_ : none;
}

void BurstLimitSettings::push_back(BurstLimitSetting setting) {
  auto copy = std::make_shared<std::vector<BurstLimitSetting>>(values());
  copy->push_back(std::move(setting));
  settings_ = std::move(copy);
}

bool BurstLimitSettings::share_if_equal(const BurstLimitSettings& other) {
  if (other.settings_ == nullptr || settings_ == other.settings_) return false;
  if (values() != other.values()) return false;
  settings_ = other.settings_;
  return true;
}

bool problem_blocks_checks(const InventoryProblem& problem) {
  return problem.source != LaunchSource::systemd;
}

std::string_view to_string(LaunchSource source) {
  switch (source) {
    case LaunchSource::xinetd:
      return "xinetd";
    case LaunchSource::inetd:
      return "inetd";
    case LaunchSource::run_script:
      return "run script";
    case LaunchSource::systemd:
      return "systemd";
  }
  return "unknown";
}

}  // namespace qharden
