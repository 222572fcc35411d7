"""Time to solve CartPole-v1 with the same DQN in PyTorch, for comparison with the C# learner (papers/Dqn).

Everything mirrors papers/Dqn: the friction-free CartPole equations and episode rules (CartPole.cs), the
SplitMix64 generator and its per-purpose streams (SplitMix64.cs: the same seed gives the same initial
states, the same epsilon coin flips and the same replay slots as the C# run, as long as both networks choose
the same actions), the 4-120-84-2 ReLU network, Adam, the Huber loss, the TD target with truncation not
terminal, the target sync every C environment steps, the linear epsilon schedule, and Experiment.RunDqn's
stopping rule: a 10-episode greedy check every 1,000 steps; when it reaches 475, a 100-episode greedy evaluation on
fresh seeds decides. Only the network's initial weights differ (torch's generator is not libtorch's as
TorchSharp seeds it), so the runs are not step-for-step equal; compare times to solve over several seeds.

Run with Debian's python3-torch and OpenBLAS:

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 \\
        papers/Dqn/bench/pytorch_dqn.py --threads 1 --seed 0

Prints one JSON line: solved, steps, updates, episodes, seconds (wall, training and greedy checks),
steps_per_second, final_mean_return (100 greedy episodes from the initial states of the C# run's final
evaluation, stream 6, after the clock stops), settings.

With --bench N it trains nothing: like `Dqn.dll --bench N` (Bench.cs) it times max(N, 100,000) CartPole
steps with random actions, N greedy actions on one observation, N minibatch draws and N updates (minibatch
from a full replay memory of random play, TD target, Huber loss, backward, Adam), and prints
env_steps_per_second, greedy_actions_per_second, minibatches_per_second and updates_per_second. The slots
are drawn with the pure-Python SplitMix64 (to draw the same ones as C#): minibatches_per_second shows its cost.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def finalise(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mix(a, b):
    """SplitMix64.Mix(a, b): one output of a*golden + b (as two's-complement 64-bit values)."""
    return finalise(((a & M64) * GOLDEN + (b & M64) + GOLDEN) & M64)


class SplitMix64:
    def __init__(self, state):
        self.state = state & M64

    @staticmethod
    def for_stream(seed, stream):
        return SplitMix64(mix(seed, stream))

    def next_u64(self):
        self.state = (self.state + GOLDEN) & M64
        return finalise(self.state)

    def next_double(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def uniform(self, low, high):
        return low + (high - low) * self.next_double()

    def next_int(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            r = self.next_u64()
            if r >= threshold:
                return r % n


class CartPole:
    """CartPole-v1 from the friction-free equations of Barto, Sutton and Anderson (1983); see CartPole.cs."""
    gravity, mass_cart, mass_pole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = mass_cart + mass_pole
    pole_mass_length = mass_pole * length
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_steps = 500

    def __init__(self, seed):
        self.rng = SplitMix64(seed)
        self.state = None
        self.elapsed = 0

    def reset(self):
        self.state = tuple(self.rng.uniform(-0.05, 0.05) for _ in range(4))
        self.elapsed = 0
        return self.state

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + self.pole_mass_length * theta_dot * theta_dot * sin) / self.total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (self.length * (4.0 / 3.0 - self.mass_pole * cos * cos / self.total_mass))
        x_acc = temp - self.pole_mass_length * theta_acc * cos / self.total_mass
        self.state = (x + self.tau * x_dot, x_dot + self.tau * x_acc, theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc)
        self.elapsed += 1
        x, _, theta, _ = self.state
        terminated = x < -self.x_threshold or x > self.x_threshold or theta < -self.theta_threshold or theta > self.theta_threshold
        truncated = not terminated and self.elapsed >= self.max_steps
        return self.state, 1.0, terminated, truncated


class Mlp(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class ReplayBuffer:
    def __init__(self, capacity, seed):
        self.s = torch.zeros(capacity, 4)
        self.s2 = torch.zeros(capacity, 4)
        self.a = torch.zeros(capacity, dtype=torch.long)
        self.r = torch.zeros(capacity)
        self.done = torch.zeros(capacity)
        self.capacity, self.count, self.position = capacity, 0, 0
        self.rng = SplitMix64(seed)

    def add(self, s, a, r, s2, terminated):
        k = self.position
        self.s[k] = torch.tensor(s, dtype=torch.float32)
        self.s2[k] = torch.tensor(s2, dtype=torch.float32)
        self.a[k], self.r[k], self.done[k] = a, r, 1.0 if terminated else 0.0
        self.position = (k + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def sample(self, batch_size):
        idx = torch.tensor([self.rng.next_int(self.count) for _ in range(batch_size)])
        return self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.done[idx]


@torch.no_grad()
def greedy_returns(net, episodes, seed):
    """Evaluation.GreedyReturns: episode i starts from CartPole(mix(seed, i)); all run side by side."""
    envs = [CartPole(mix(seed, i)) for i in range(episodes)]
    obs = [e.reset() for e in envs]
    returns = [0.0] * episodes
    running = list(range(episodes))
    while running:
        actions = net(torch.tensor([obs[i] for i in running], dtype=torch.float32)).argmax(1).tolist()
        still = []
        for i, a in zip(running, actions):
            obs[i], r, terminated, truncated = envs[i].step(a)
            returns[i] += r
            if not (terminated or truncated):
                still.append(i)
        running = still
    return returns


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=str, default="120,84")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--buffer-size", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--target-sync-every", type=int, default=250)
    p.add_argument("--epsilon-start", type=float, default=1.0)
    p.add_argument("--epsilon-end", type=float, default=0.02)
    p.add_argument("--epsilon-decay-steps", type=int, default=8_000)
    p.add_argument("--learning-starts", type=int, default=1_000)
    p.add_argument("--train-every", type=int, default=1)
    p.add_argument("--total-steps", type=int, default=150_000)
    p.add_argument("--eval-every", type=int, default=1_000)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--solve-episodes", type=int, default=100)
    p.add_argument("--final-episodes", type=int, default=100)
    p.add_argument("--bench", type=int, default=None, help="time the pieces of a step instead of training (see above)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.bench:
        bench(args)
        return

    seed = args.seed
    env = CartPole(mix(seed, 1))                         # the learner's streams: env 1, explore 2, replay 3
    explore = SplitMix64.for_stream(seed, 2)
    replay = ReplayBuffer(args.buffer_size, mix(seed, 3))
    torch.manual_seed(seed)
    sizes = [4] + [int(h) for h in args.hidden.split(",")] + [2]
    online, target = Mlp(sizes), Mlp(sizes)
    target.load_state_dict(online.state_dict())
    for q in target.parameters():
        q.requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=args.lr)

    def epsilon(t):
        if t >= args.epsilon_decay_steps:
            return args.epsilon_end
        return args.epsilon_start + (args.epsilon_end - args.epsilon_start) * t / args.epsilon_decay_steps

    solve_seed = mix(seed, 5)
    start = time.perf_counter()
    obs = env.reset()
    step = updates = episodes = checks = 0
    solved, final = False, None
    while step < args.total_steps:
        # 1. act
        if explore.next_double() < epsilon(step):
            action = explore.next_int(2)
        else:
            with torch.no_grad():
                action = int(online(torch.tensor([obs], dtype=torch.float32)).argmax(1).item())
        # 2. step and store; truncation is not terminal
        next_obs, reward, terminated, truncated = env.step(action)
        replay.add(obs, action, reward, next_obs, terminated)
        step += 1
        if terminated or truncated:
            episodes += 1
            obs = env.reset()
        else:
            obs = next_obs
        # 3. learn
        if step >= args.learning_starts and step % args.train_every == 0:
            s, a, r, s2, done = replay.sample(args.batch_size)
            q = online(s).gather(1, a.unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                y = r + args.gamma * (1 - done) * target(s2).amax(1)
            loss = F.huber_loss(q, y, delta=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            updates += 1
        # 4. sync
        if step % args.target_sync_every == 0:
            target.load_state_dict(online.state_dict())
        # greedy checks (Experiment.RunDqn's stopping rule)
        if args.eval_every and step % args.eval_every == 0:
            check_seed = mix(seed, 4 * 1_000_000 + checks)
            checks += 1
            if sum(greedy_returns(online, args.eval_episodes, check_seed)) / args.eval_episodes >= 475:
                final = greedy_returns(online, args.solve_episodes, solve_seed)
                if sum(final) / len(final) >= 475:
                    solved = True
                    break
    if not solved:
        final = greedy_returns(online, args.solve_episodes, solve_seed)
        solved = sum(final) / len(final) >= 475
    seconds = time.perf_counter() - start
    final = greedy_returns(online, args.final_episodes, mix(seed, 6))     # Experiment's final evaluation: stream 6
    print(json.dumps({
        "solved": solved, "steps": step, "updates": updates, "episodes": episodes,
        "seconds": round(seconds, 3), "steps_per_second": round(step / seconds, 1),
        "final_mean_return": sum(final) / len(final), "torch": torch.__version__, "settings": vars(args),
    }))


def bench(args):
    """The pieces of one DQN step timed apart, as Bench.cs does."""
    steps = args.bench
    env_steps, warmup = max(steps, 100_000), min(steps, 100)
    env, coin = CartPole(1), SplitMix64(2)
    env.reset()

    def env_step():
        _, _, terminated, truncated = env.step(coin.next_int(2))
        if terminated or truncated:
            env.reset()
    for _ in range(1000):
        env_step()
    start = time.perf_counter()
    for _ in range(env_steps):
        env_step()
    env_rate = env_steps / (time.perf_counter() - start)

    torch.manual_seed(0)
    sizes = [4] + [int(h) for h in args.hidden.split(",")] + [2]
    online, target = Mlp(sizes), Mlp(sizes)
    target.load_state_dict(online.state_dict())
    for q in target.parameters():
        q.requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=args.lr)
    obs = env.reset()

    def act():
        with torch.no_grad():
            return int(online(torch.tensor([obs], dtype=torch.float32)).argmax(1).item())
    for _ in range(warmup):
        act()
    start = time.perf_counter()
    for _ in range(steps):
        act()
    act_rate = steps / (time.perf_counter() - start)

    replay = ReplayBuffer(args.buffer_size, 3)
    obs = env.reset()
    for _ in range(args.buffer_size):
        a = coin.next_int(2)
        nxt, r, terminated, truncated = env.step(a)
        replay.add(obs, a, r, nxt, terminated)
        obs = env.reset() if terminated or truncated else nxt

    for _ in range(warmup):
        replay.sample(args.batch_size)
    start = time.perf_counter()
    for _ in range(steps):
        replay.sample(args.batch_size)
    sample_rate = steps / (time.perf_counter() - start)

    def update():
        s, a, r, s2, done = replay.sample(args.batch_size)
        q = online(s).gather(1, a.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            y = r + args.gamma * (1 - done) * target(s2).amax(1)
        loss = F.huber_loss(q, y, delta=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for _ in range(warmup):
        update()
    start = time.perf_counter()
    for _ in range(steps):
        update()
    update_rate = steps / (time.perf_counter() - start)
    print(json.dumps({
        "framework": f"PyTorch {torch.__version__}", "threads": args.threads, "hidden": args.hidden, "batch_size": args.batch_size,
        "env_steps_per_second": round(env_rate, 1), "greedy_actions_per_second": round(act_rate, 1),
        "minibatches_per_second": round(sample_rate, 1), "updates_per_second": round(update_rate, 1),
    }))


if __name__ == "__main__":
    main()
