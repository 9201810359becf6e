"""The benches' wait for a quiet machine reads the machine's own work from /proc/stat: the
host's steal time (a neighbour's work on a shared VM host) is not this machine being busy."""

from bench._settle import CpuTimes, busy_cores, cpu_times

# cpu user nice system idle iowait irq softirq steal guest guest_nice
BEFORE = "cpu  1000 0 200 5000 100 10 20 300 0 0\ncpu0 ...\n"
AFTER = "cpu  1100 0 250 5150 100 15 25 900 0 0\ncpu0 ...\n"


def test_busy_is_user_nice_system_irq_softirq() -> None:
    assert cpu_times(BEFORE) == CpuTimes(busy=1230, total=6330)


def test_busy_cores_leave_the_hosts_steal_out() -> None:
    # 160 jiffies of work out of 310 of this machine's time, whatever the 600 stolen
    assert busy_cores(cpu_times(BEFORE), cpu_times(AFTER), cores=2) == 2 * 160 / 310


def test_no_time_elapsed_is_quiet() -> None:
    same = cpu_times(BEFORE)
    assert busy_cores(same, same, cores=2) == 0.0
