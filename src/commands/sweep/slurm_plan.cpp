#include "normtrain/commands/sweep/slurm_plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "normtrain/commands/sweep/grid.hpp"
#include "normtrain/commands/sweep/subprocess.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/data/sha256.hpp"
#include "normtrain/report/run_record.hpp"

namespace normtrain {
namespace {

// Hex digits of the SHA-256 kept in ids: 64 bits, so two different plans of one sweep folder
// never share a name.
constexpr std::size_t kIdLength = 16;

nlohmann::json tasks_json(const std::vector<PlannedTask>& tasks) {
  nlohmann::json list = nlohmann::json::array();
  for (const PlannedTask& task : tasks) {
    list.push_back({{"name", task.name}, {"dir", task.dir.string()}, {"args", task.args}});
  }
  return list;
}

// What a plan's id is computed from: everything in it but the id.
nlohmann::json plan_content(const ArrayPlan& plan) {
  return {{"sweep", plan.sweep_dir.string()},
          {"workdir", plan.workdir.string()},
          {"tasks", tasks_json(plan.tasks)}};
}

std::string content_id(const nlohmann::json& content) {
  return sha256_hex(content.dump()).substr(0, kIdLength);
}

// Appends `line` to the run's normtrain.log; a failure is reported, not fatal: the log is for
// people.
void append_log_line(const std::filesystem::path& dir, const std::string& line, std::ostream& out) {
  try {
    OutputFile log(dir / "normtrain.log", OutputFile::Mode::kAppend);
    log.write(line + "\n");
    log.close();
  } catch (const Error& error) {
    out << "sweep: " << error.what() << "\n";
  }
}

std::string environment(const char* name, const std::string& otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : otherwise;
}

}  // namespace

ArrayPlan make_array_plan(const std::filesystem::path& sweep_dir,
                          const std::filesystem::path& workdir, std::vector<PlannedTask> tasks) {
  ArrayPlan plan;
  plan.sweep_dir = sweep_dir;
  plan.workdir = workdir;
  plan.tasks = std::move(tasks);
  plan.id = content_id(plan_content(plan));
  return plan;
}

std::filesystem::path array_plan_path(const std::filesystem::path& sweep_dir,
                                      const std::string& id) {
  return sweep_dir / ".sweep" / ("plan-" + id + ".json");
}

std::string to_json_text(const ArrayPlan& plan) {
  nlohmann::json json = plan_content(plan);
  json["id"] = plan.id;
  return json.dump(2) + "\n";
}

std::filesystem::path write_array_plan(const ArrayPlan& plan) {
  const std::filesystem::path path = array_plan_path(plan.sweep_dir, plan.id);
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    throw RuntimeError(
        fmt::format("cannot create {}: {}", path.parent_path().string(), error.message()));
  }
  if (std::filesystem::exists(path, error)) return path;
  // A complete temporary file, then a hard link to the final name: link() never replaces a
  // file, so a plan file, once there, is never touched again.
  const std::filesystem::path temporary =
      path.parent_path() / fmt::format(".{}.{}.tmp", path.filename().string(), ::getpid());
  OutputFile file(temporary, OutputFile::Mode::kTruncate);
  file.write(to_json_text(plan));
  file.sync();
  file.close();
  ::chmod(temporary.c_str(), 0444);  // read-only, to say so to people too
  const int linked = ::link(temporary.c_str(), path.c_str());
  const int link_error = errno;
  std::filesystem::remove(temporary, error);
  if (linked != 0 && link_error != EEXIST) {
    throw RuntimeError(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(link_error)));
  }
  return path;
}

ArrayPlan read_array_plan(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  ArrayPlan plan;
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    plan.id = json.at("id").get<std::string>();
    plan.sweep_dir = json.at("sweep").get<std::string>();
    plan.workdir = json.at("workdir").get<std::string>();
    for (const nlohmann::json& task : json.at("tasks")) {
      plan.tasks.push_back({task.at("name").get<std::string>(), task.at("dir").get<std::string>(),
                            task.at("args").get<std::vector<std::string>>()});
    }
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeError(
        fmt::format("{} is not a sweep plan normtrain can read ({})", path.string(), error.what()));
  }
  if (content_id(plan_content(plan)) != plan.id) {
    throw RuntimeError(fmt::format(
        "{} was changed after it was written (its content no longer gives its id {}); its "
        "tasks cannot trust it. Submit the sweep again with normtrain sweep --slurm",
        path.string(), plan.id));
  }
  return plan;
}

std::string sweep_json_text(const std::vector<std::string>& grid,
                            const std::vector<PlannedTask>& runs) {
  nlohmann::json runs_json = nlohmann::json::array();
  for (const PlannedTask& run : runs) {
    runs_json.push_back({{"name", run.name}, {"args", run.args}});
  }
  nlohmann::json json = {{"grid", grid}, {"runs", runs_json}};
  json["id"] = content_id(json);
  return json.dump(2) + "\n";
}

ArrayTask prepare_array_task(const std::filesystem::path& plan_file, int index) {
  const ArrayPlan plan = read_array_plan(plan_file);
  if (index < 0 || static_cast<std::size_t>(index) >= plan.tasks.size()) {
    throw UsageError(fmt::format("--task-index {}: {} has tasks 0 to {}", index, plan_file.string(),
                                 plan.tasks.size() - 1));
  }
  ArrayTask task;
  task.task = plan.tasks[static_cast<std::size_t>(index)];
  task.plan_id = plan.id;
  task.workdir = plan.workdir;
  try {
    const TrainConfig config = parse_training_flags(task.task.args);
    const RunPlan run_plan = plan_run(config);
    task.decision = fmt::format("{}: {}", to_string(run_plan.action), run_plan.detail);
    if (run_plan.action == RunAction::kSkip) task.exit_status = 0;
    if (run_plan.action == RunAction::kDiverged) task.exit_status = 3;
  } catch (const Error& error) {
    task.decision = fmt::format("refused: {}", error.what());
    task.exit_status = error.kind() == ErrorKind::kUsage ? 2 : 1;
  }
  return task;
}

int run_array_task(const std::filesystem::path& plan_file, int index,
                   const std::filesystem::path& program, std::ostream& out) {
  const ArrayTask task = prepare_array_task(plan_file, index);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string line = fmt::format(
      "# sweep {}: task {} of plan-{} (Slurm job {}_{} on {}): {}", utc_timestamp(), index,
      task.plan_id, environment("SLURM_ARRAY_JOB_ID", "?"), index, host, task.decision);
  out << line << std::endl;
  std::error_code ignored;
  std::filesystem::create_directories(task.task.dir, ignored);
  append_log_line(task.task.dir, line, out);
  if (task.exit_status) return *task.exit_status;

  if (::chdir(task.workdir.c_str()) != 0) {
    throw RuntimeError(fmt::format("cannot change to the sweep's working folder {}: {}",
                                   task.workdir.string(), std::strerror(errno)));
  }
  std::vector<std::string> args = {"normtrain"};
  args.insert(args.end(), task.task.args.begin(), task.task.args.end());
  std::vector<std::string> shown = args;
  shown.front() = program.string();
  append_log_line(task.task.dir, fmt::format("# sweep {}: {}", utc_timestamp(), shell_words(shown)),
                  out);

  const std::filesystem::path log = task.task.dir / "normtrain.log";
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RuntimeError(fmt::format("cannot open {}: {}", log.string(), std::strerror(errno)));
  }
  out.flush();
  const int slurm_log = ::dup(STDERR_FILENO);
  ::dup2(fd, STDOUT_FILENO);
  ::dup2(fd, STDERR_FILENO);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  ::execv(program.c_str(), argv.data());
  const int error = errno;
  // Back to the Slurm log, where the caller reports the failure.
  ::dup2(slurm_log, STDOUT_FILENO);
  ::dup2(slurm_log, STDERR_FILENO);
  throw RuntimeError(fmt::format("cannot run {}: {}", program.string(), std::strerror(error)));
}

}  // namespace normtrain
